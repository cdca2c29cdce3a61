"""results/summary.html: the report rendered from its Markdown (python-markdown), one page that
opens offline from results/ (figures by relative path) and that the Snakemake report embeds."""

from __future__ import annotations

import html

import markdown

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; display: block;
        max-width: 100%; overflow-x: auto; }  /* a wide appendix table scrolls in its box */
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; }
code { background: #f6f6f6; padding: 0 3px; }
"""


def render(text_md: str, title: str = "blockbench: the study") -> str:
    """A standalone HTML page of the report's Markdown (tables included)."""
    body = markdown.markdown(text_md, extensions=["tables", "fenced_code", "sane_lists"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
