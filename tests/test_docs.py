"""The README and docs/: every relative link and image points to a file (and heading) that
exists, the README stays short, lines stay readable, and no line speaks of how the project was
worked on. External links are not fetched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "data" / "README.md", *(ROOT / "docs").glob("*.md")])
README_MAX_LINES = 200
MAX_LINE = 100
MAX_IMAGE_KB = 400

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
# how the project was worked on, not what it is (a browser's session, its session state and a
# proxy's session affinity are the product's words)
PROCESS = re.compile(r"\bissues? #?\d+|\b(this|last|previous|earlier|next|that|a later) session"
                     r"|\blent\b|\bsitting|\bticket", re.I)


def prose(path: Path) -> str:
    """The Markdown of ``path`` without fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for ``path`` (lower case, punctuation dropped, spaces
    to hyphens, ``-1``, ``-2`` ... for repeats)."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(prose(path)):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def relative_links(path: Path) -> list[str]:
    text = prose(path)
    targets = INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t, re.I)]


def page_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_docs_are_found():
    names = {page_id(p) for p in PAGES}
    assert {"README.md", "docs/README.md", "docs/cli.md", "docs/models.md"} <= names


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_relative_links_and_images_exist(path):
    broken = []
    for target in relative_links(path):
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT)}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert broken == []


def test_anchors_follow_github():
    assert anchors(ROOT / "docs" / "data.md") >= {"the-378-leaked-test-images", "what-is-in-data"}


def test_the_readme_is_short_and_shows_the_app():
    readme = ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES
    images = [(readme.parent / target).resolve() for target in IMAGE.findall(prose(readme))]
    assert 2 <= len(images) <= 3
    for image in images:
        assert image.suffix == ".png" and image.parent == ROOT / "docs" / "images"
        assert image.stat().st_size <= MAX_IMAGE_KB * 1024, f"{image.name}: compress it"


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_lines_are_readable(path):
    long = [f"{i}: {len(line)} characters" for i, line in
            enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > MAX_LINE]
    assert long == []


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_no_line_speaks_of_how_the_project_was_worked_on(path):
    found = [f"{i}: {line.strip()}" for i, line in
             enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if PROCESS.search(line)]
    assert found == []


# each example is joined from its words, so that this file itself passes the same check
@pytest.mark.parametrize("words", [
    ("measured in", "issue", "13 on the GPU"), ("the", "previous", "session's machine"),
    ("its history includes every", "sitting"),
    ("see", "Issue", "#7"), ("measured on", "this", "session's 2 idle cores"),
])
def test_process_words_are_caught(words):
    assert PROCESS.search(" ".join(words))


@pytest.mark.parametrize("line", [
    "Start trains in the background of your browser session", "kept in the session state",
    "no session affinity is needed", "keeps it in the browser tab's session",
    "an insight into the data", "the lentil class",
])
def test_product_words_pass(line):
    assert not PROCESS.search(line)
