"""The HTML template of `dvc plots show` with Vega, Vega-Lite and vega-embed inlined, so the page
renders with no network (DVC's own page loads them from a CDN: blank on an offline cluster).

The JavaScript is vl-convert-python's bundle of the three libraries (pinned in requirements.txt;
BSD-3-Clause, as are Vega, Vega-Lite and vega-embed). The template is committed as
`.dvc/offline_plots.html` (`.dvc/config`: `plots.html_template`), so a fresh clone has it;
regenerate it after changing the pin:

    .venv/bin/python -m blockbench.plots_page
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = Path(".dvc") / "offline_plots.html"

PAGE = """<!DOCTYPE html>
<html>
<head>
{refresh_tag}
<meta charset="utf-8">
<title>blockbench: DVC plots</title>
<!-- Vega, Vega-Lite and vega-embed (BSD-3-Clause), bundled by vl-convert-python VERSION -->
<script>
BUNDLE
</script>
<style>
body { font: 14px system-ui, sans-serif; margin: 1em; }
table { border-spacing: 15px; }
img { max-width: 900px; }
</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def render() -> str:
    import vl_convert

    bundle = vl_convert.javascript_bundle()
    if "{plot_divs}" in bundle or "{scripts}" in bundle or "{refresh_tag}" in bundle:
        raise RuntimeError("the bundle holds one of DVC's placeholders; it cannot be inlined")
    version = getattr(vl_convert, "__version__", "?")
    return PAGE.replace("VERSION", version).replace(
        "BUNDLE", bundle.replace("</script", "<\\/script")
    )


if __name__ == "__main__":
    from .storage import write_text

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else TEMPLATE
    write_text(out, render())
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
