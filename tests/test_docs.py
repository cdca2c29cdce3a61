"""The README as a newcomer reads it: contents first, no history on the first screen, and every
script listed with its purpose."""

from __future__ import annotations

import re

from conftest import REPO

README = (REPO / "README.md").read_text()


def test_every_script_is_listed_in_the_readme_and_every_listed_one_exists():
    table = README.split("### Scripts")[1].split("\n#")[0]
    listed = set(re.findall(r"^\| `([^`]+)` \|", table, flags=re.M))
    present = {p.name for p in (REPO / "scripts").iterdir() if p.is_file()}
    assert listed == present, (sorted(present - listed), sorted(listed - present))


def test_the_first_screen_has_contents_and_no_commit_hashes():
    first = "\n".join(README.splitlines()[:60])
    assert "## Contents" in first
    assert not re.search(r"\b[0-9a-f]{7,40}\b", first), re.findall(r"\b[0-9a-f]{7,40}\b", first)
    for anchor in re.findall(r"\]\(#([^)]+)\)", README.split("## Contents")[1].split("\n## ")[0]):
        heading = anchor.replace("-", " ")
        assert any(
            re.sub(r"[^a-z0-9 ]", "", h.lower()).replace("  ", " ").strip() == heading
            for h in re.findall(r"^#+ (.+)$", README, flags=re.M)
        ), anchor


def test_the_readmes_answers_are_the_committed_reports_numbers():
    """Every percentage and ratio the README's "What it answers" quotes is in the committed
    report's headline (it is rewritten by hand after each aggregate; this catches one left
    stale)."""
    answers = README.split("## What it answers")[1].split("\n## ")[0]
    summary = (REPO / "results" / "summary.md").read_text()
    headline = summary.split("## Headline")[1].split("\n## ")[0]
    quoted = re.findall(r"\d+\.\d+(?=%|×)", answers)
    assert len(quoted) >= 6, quoted
    missing = [q for q in quoted if q not in headline]
    assert not missing, missing
