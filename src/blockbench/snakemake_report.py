"""`snakemake --report report.zip`: the summary page with the files it shows, and a quiet run.

Snakemake stores a report item on its own, so results/summary.html would open there without the
figures and tables it links to (`study_figures/…`, `runs/<run>/figures/…`, `tables/…`). While it
parses a `--report` command line, the Snakefile copies the page and every file it links to into
one folder (`PAGE`, under .snakemake/, ignored by git) and marks that folder for the report with
`htmlindex`: the report then holds the page with its files beside it, as in results/.

A clone or a DVC build leaves Snakemake no record of the jobs that wrote the committed outputs, and
its report then warns once per output file ("Missing metadata for file …", thousands of lines that
hide the result); `quiet_missing_metadata` replaces them with one line. No torch or pandas here.
"""

from __future__ import annotations

import logging
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import paths
from .errors import BlockbenchError

PAGE = Path(".snakemake") / "report_page" / "summary"  # its name is the report item's name
MISSING_METADATA = "Missing metadata for file"


def is_report(argv: list[str]) -> bool:
    """Whether a Snakemake command line builds a report (`--report`, `--report=…`)."""
    return any(a.split("=", 1)[0] == "--report" for a in argv[1:])


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found += [v for k, v in attrs if k in ("src", "href") and v]


def linked_files(html: str) -> list[str]:
    """The files a page links to or shows, as paths relative to it (no anchors, no URLs)."""
    parser = _Links()
    parser.feed(html)
    out = []
    for link in parser.found:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        rel = unquote(parts.path)
        if rel not in out:
            out.append(rel)
    return out


def assemble(root: Path = Path("."), dest: Path = PAGE) -> Path:
    """`dest` (under `root`) rebuilt: results/summary.html as summary.html and each file it links
    to at the same relative path. Returns `dest`."""
    page = root / paths.SUMMARY_HTML
    if not page.is_file():
        raise BlockbenchError(
            f"{paths.SUMMARY_HTML}: not found; build the report first "
            "(snakemake --cores 4 results/summary.md), then run snakemake --report again"
        )
    out = root / dest
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy2(page, out / "summary.html")
    base = page.parent.resolve()
    for rel in linked_files(page.read_text(encoding="utf-8")):
        src = (base / rel).resolve()
        if base not in src.parents or not src.is_file():
            continue  # outside results/ or missing: left as it is on the page
        target = out / src.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


class _NoMissingMetadata(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(MISSING_METADATA)


def quiet_missing_metadata() -> None:
    """Drop Snakemake's per-file 'Missing metadata' warnings (they only mean that a file's job ran
    elsewhere: a clone, DVC), and say so once."""
    logging.getLogger("snakemake.logging").addFilter(_NoMissingMetadata())
    print(
        "report: outputs that this checkout's Snakemake did not write (a clone, DVC) have no job "
        "record; their run times are left out of the report",
        flush=True,
    )
