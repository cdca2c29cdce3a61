"""The views a DVC or Snakemake user opens are readable as they come (issue 37): the Snakemake
report's summary with its figures and working links, a caption of its own for every table and a
quiet run; `dvc metrics show` and the README's `dvc exp show` within 160 columns; the Vega plots
with one colour per architecture, the metric on the y axis and legends that fit.

One small pipeline (digits, the headline pair, a few epochs) is built once by Snakemake and
committed; each view is looked at on a fresh clone of it, as a user would, and the pages in
headless Chromium with the network cut off."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
import pytest
import yaml
from conftest import REPO, digits_params
from enginekit import dvc_init, git, make_copy, run
from test_engines import chromium

from blockbench import params as bbp
from blockbench import snakemake_report
from blockbench.quick import engine_env, warm_env

# stage scripts forked from a warm server (conftest.warm_stages) unless a test says otherwise
pytestmark = [pytest.mark.engines, pytest.mark.usefixtures("warm_stages")]

HEADLINE_PAIR = ("c1m3", "c4")
WIDTH = 160  # the terminal the views must fit
WARNING = re.compile(r"warn|missing metadata", re.I)


def stock(caption: str, table: str) -> bool:
    """Whether a table's caption is a stock one: a stock caption (workflow/report/table.rst's
    fallback, for a table nobody wrote one for) names the table's file instead of saying what the
    table holds."""
    return f"{table}.csv" in caption


# what the README gives for `dvc exp show` (section "What DVC shows")
EXP_SHOW_FLAGS = [
    "--drop",
    ".*",
    "--keep",
    r"Experiment|Created|architecture|training_speed|remedy\.|reference\.",
]


def views_params() -> dict:
    """digits, 2 epochs (curves with a shape): the headline pair with a seed replicate each, and
    its two primary comparisons, so the summary and every DVC view have something to show."""
    p = digits_params(epochs=2)
    p["splits"] = {"imbalanced": {}}
    p["runs"] = {
        "c4": {"n_conv": 4, "n_mobilenet": 0, "replicate_seeds": [1]},
        "c1m3": {"n_conv": 1, "n_mobilenet": 3, "replicate_seeds": [1]},
    }
    p["grids"] = {}
    p["seeds"] = {}
    p["study"] = {
        "mobilenet": "c1m3",
        "plain": "c4",
        "block_counts": ["c1m3"],
        "sweeps": {},
        "alpha": 0.05,
        "primary": {
            "architecture": {"metric": "accuracy", "kind": "equivalence"},
            "training_speed": {"kind": "difference"},
        },
        "margins": {"accuracy": 0.5, "minority_recall": 2.0},
    }
    p["evaluate"] = {"bootstrap_samples": 50}
    p["benchmark"]["runs"] = list(HEADLINE_PAIR)
    return bbp.validate(p)


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The pipeline built by Snakemake (its stages forked from a warm server) and committed with
    the repository's DVC settings (the offline plots page, the plot templates of .dvc/plots)."""
    repo = make_copy(tmp_path_factory.mktemp("views") / "origin", views_params(), dvc=False)
    with warm_env(engine_env(repo)) as env:
        run(["snakemake", "--cores", "2"], repo, env=env)
    git(repo, "init", "-q")
    dvc_init(repo)
    shutil.copytree(REPO / ".dvc" / "plots", repo / ".dvc" / "plots", dirs_exist_ok=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "study")
    return repo


def clone(origin: Path, dest: Path) -> Path:
    run(["git", "clone", "-q", str(origin), str(dest)], dest.parent)
    return dest


def dump_dom(page: Path, tmp_path: Path, *flags: str) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with the network cut off."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--virtual-time-budget=20000",
        "--window-size=1400,1400",
        f"--user-data-dir={tmp_path / 'profile'}",
        *flags,
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180).stdout


# ------------------------------------------------------------------------ the Snakemake report
@pytest.fixture(scope="module")
def report_run(origin, tmp_path_factory):
    return make_report(clone(origin, tmp_path_factory.mktemp("report") / "clone"))


def make_report(repo: Path) -> tuple[str, Path, dict]:
    """`snakemake --report report.zip` in `repo`, a fresh clone (no job records: Snakemake did
    not build its files), unpacked: (its output, the unpacked folder, the report's items by
    path)."""
    proc = run(["snakemake", "--report", "report.zip"], repo)
    out = repo.parent / "unpacked"
    with zipfile.ZipFile(repo / "report.zip") as zf:
        zf.extractall(out)
    html = next(out.rglob("report.html"))
    return proc.stdout + proc.stderr, html.parent, report_items(html.read_text())


def report_items(html: str) -> dict:
    """The items of a Snakemake report page (the JSON object it passes to its app), by path."""
    items = {}
    for m in re.finditer(r'"([^"]+)": (\{"name": )', html):
        obj, _ = json.JSONDecoder().raw_decode(html, m.start(2))
        items[m[1]] = obj
    return items


HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" src="{src}" width="1200" height="900"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {{
  var d = this.contentDocument;
  document.getElementById("result").textContent = JSON.stringify({{
    images: Array.from(d.images).map(function (i) {{
      return [i.getAttribute("src"), i.complete, i.naturalWidth];
    }}),
    links: Array.from(d.querySelectorAll("a[href]")).map(function (a) {{
      return a.getAttribute("href");
    }}),
    ids: Array.from(d.querySelectorAll("[id]")).map(function (e) {{ return e.id; }}),
  }});
}});
</script></body></html>
"""


@pytest.mark.browser
def test_the_report_summary_shows_every_figure_and_every_link_resolves(report_run, tmp_path):
    """The Summary item is the page with its files beside it: in the browser every image loads
    (naturalWidth > 0) and every link inside it points at a file or an anchor that exists."""
    _, root, items = report_run
    summary = [i for i in items.values() if i["name"] == "summary.html"]
    assert len(summary) == 1, sorted(i["name"] for i in items.values())
    page = root / summary[0]["data_uri"]
    harness = page.parent / "harness.html"
    harness.write_text(HARNESS.format(src=page.name))
    dom = dump_dom(harness, tmp_path, "--allow-file-access-from-files")
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found and found[1] != "pending", dom[-2000:]
    seen = json.loads(found[1].replace("&quot;", '"').replace("&amp;", "&"))
    assert len(seen["images"]) >= 5, seen["images"]
    broken = [src for src, complete, width in seen["images"] if not (complete and width > 0)]
    assert not broken, broken
    assert len(seen["links"]) >= 5
    for href in seen["links"]:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            continue  # outside the report: not ours to check
        if parts.path:
            assert (page.parent / unquote(parts.path)).is_file(), href
        elif parts.fragment:
            assert parts.fragment in seen["ids"], href


def test_the_report_run_is_quiet_and_says_it_is_done(report_run):
    output, _, _ = report_run
    warnings = [line for line in output.splitlines() if WARNING.search(line)]
    assert len(warnings) < 20, warnings[:5]
    assert "Report created." in output


def test_every_table_in_the_report_has_its_own_caption(report_run):
    _, _, items = report_run
    tables = {i["name"][:-4]: i["caption"] for i in items.values() if i["name"].endswith(".csv")}
    assert len(tables) >= 10, sorted(tables)
    assert not [name for name, caption in tables.items() if stock(caption, name)]
    assert len(set(tables.values())) == len(tables)  # one caption per table, none shared


def table_caption(name: str, config: dict) -> str:
    """workflow/report/table.rst rendered for the table `name`, as Snakemake renders it."""
    template = (REPO / "workflow/report/table.rst").read_text()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    context = {"config": config, "wildcards": {"name": name}}
    return env.from_string(template).render(snakemake=context).strip()


def test_every_committed_table_has_its_own_caption():
    """The study's own tables (results/tables), not only the small pipeline's."""
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    names = sorted(p.stem for p in (REPO / "results/tables").glob("*.csv"))
    assert len(names) >= 20
    captions = {name: table_caption(name, config) for name in names}
    assert not [name for name, caption in captions.items() if stock(caption, name)]
    assert len(set(captions.values())) == len(captions)


# the argument that names the table, in the report code's calls that write one
NAME_ARG = {"tables": 1, "comparisons_table": 1, "comparison_table": 2}


def written_tables() -> set[str]:
    """The tables the report code writes: each literal name, and an example name of each name
    built with an f-string (its constant start and `x`)."""
    names = set()
    for path in (REPO / "src/blockbench/report").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else None
            i = NAME_ARG.get(func)
            if i is None or len(node.args) <= i:
                continue
            arg = node.args[i]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                names.add(f"{arg.values[0].value}x")
    return names


def test_every_table_the_report_writes_has_its_own_caption():
    """Also those the committed study has not written yet (a new section's tables)."""
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    names = sorted(written_tables())
    assert len(names) >= 30 and "comparisons" in names and "7_x" in names, names
    captions = {name: table_caption(name, config) for name in names}
    assert not [name for name, caption in captions.items() if stock(caption, name)]


def test_a_report_page_folder_holds_the_page_and_what_it_links_to(tmp_path):
    (tmp_path / "results/study_figures").mkdir(parents=True)
    (tmp_path / "results/study_figures/a.png").write_bytes(b"png")
    (tmp_path / "results/tables").mkdir()
    (tmp_path / "results/tables/t.csv").write_text("x\n1\n")
    (tmp_path / "results/summary.html").write_text(
        '<img src="study_figures/a.png"><a href="tables/t.csv">t</a><a href="#s">s</a>'
        '<a href="https://example.org/">x</a><img src="../outside.png">'
    )
    folder = tmp_path / snakemake_report.assemble(tmp_path)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "study_figures/a.png",
        "summary.html",
        "tables/t.csv",
    ]
    assert snakemake_report.is_report(["snakemake", "--report", "r.zip"])
    assert snakemake_report.is_report(["snakemake", "--report=r.zip"])
    assert not snakemake_report.is_report(["snakemake", "--cores", "2", "report.zip"])


# --------------------------------------------------------------------------------- DVC's views
@pytest.fixture(scope="module")
def dvc_clone(origin, tmp_path_factory):
    return clone(origin, tmp_path_factory.mktemp("dvc") / "clone")


def narrow(cmd: list[str], repo: Path) -> list[str]:
    """`cmd`'s output lines, run in a terminal WIDTH columns wide."""
    env = {**engine_env(repo), "COLUMNS": str(WIDTH)}
    return run(cmd, repo, env=env).stdout.splitlines()


def test_dvc_metrics_show_fits_the_terminal_and_shows_the_headline(dvc_clone):
    lines = narrow(["dvc", "metrics", "show"], dvc_clone)
    assert max(len(line) for line in lines) <= WIDTH, lines
    assert lines[0].split()[:2] == ["Path", "architecture"], lines[0]
    assert len(lines) == 2 and lines[1].startswith("results/headline.json"), lines
    # each run's numbers: the files named on the command line (README)
    runs = narrow(["dvc", "metrics", "show", "results/metrics"], dvc_clone)
    assert "minority_recall" in runs[0] and len(runs) == 1 + 4, runs


def test_dvc_metrics_diff_names_a_changed_runs_numbers_on_request(origin, tmp_path):
    """Each run's numbers are out of the default view but one flag away (README): after a run's
    flat file changes, `dvc metrics diff --targets results/metrics` lists that run's numbers."""
    repo = clone(origin, tmp_path / "clone")
    path = repo / "results/metrics/c4.json"
    values = json.loads(path.read_text())
    path.write_text(json.dumps({**values, "accuracy": values["accuracy"] + 0.25}))
    assert json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout or "{}") == {}
    cmd = ["dvc", "metrics", "diff", "--json", "--targets", "results/metrics"]
    diff = json.loads(run(cmd, repo).stdout or "{}")
    assert {p for p, changed in diff.items() if changed} == {"results/metrics/c4.json"}, diff
    assert list(diff["results/metrics/c4.json"]) == ["accuracy"]


def test_dvc_exp_show_with_the_readme_flags_fits_and_shows_the_headline(dvc_clone):
    lines = narrow(["dvc", "exp", "show", "--no-pager", *EXP_SHOW_FLAGS], dvc_clone)
    assert max(len(line) for line in lines) <= WIDTH, lines
    header = next(line for line in lines if "Experiment" in line)
    headline = json.loads((dvc_clone / "results/headline.json").read_text())
    assert set(header.split()) >= {"Experiment", *headline}, header
    rows = [line for line in lines if line.strip(" ─") and line != header]
    assert len(rows) == 2 and not any("…" in row for row in rows), lines  # workspace, the commit


@pytest.mark.browser
def test_dvc_plots_one_colour_per_architecture_metric_on_y_legends_whole(dvc_clone, tmp_path):
    run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], dvc_clone)
    dom = dump_dom(tmp_path / "plots" / "index.html", tmp_path)
    for plot_id, metric in (
        ("Validation_loss", "validation loss"),
        ("Validation_accuracy", "validation accuracy"),
    ):
        start = dom.index(f'id="{plot_id}')
        chart = dom[start : dom.index("</svg>", start)]
        axis_titles = groups_text(chart, "role-axis-title")
        assert metric in axis_titles and "y" not in axis_titles, axis_titles
        labels = groups_text(chart, "role-legend-label")
        assert {"mobilenet", "plain"} <= set(labels), labels
        assert not [label for label in labels if label.endswith("…")], labels
        lines = re.findall(r'class="mark-line role-mark[^"]*".*?</g>', chart, re.S)
        colours = set(re.findall(r'stroke="(#[0-9a-fA-F]+)"', "".join(lines)))
        assert len(colours) == 2, colours  # one per architecture, mean and range alike


def groups_text(svg: str, role: str) -> list[str]:
    """The text of the `role` marks (Vega's SVG: axis titles, legend labels) in `svg`."""
    out = []
    for group in re.findall(rf'class="mark-text {role}[^"]*".*?</g>', svg, re.S):
        out += [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", group)]
    return out


def unescape(text: str) -> str:
    return text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
