"""The README's pictures exist, and every screenshot the browser tests refresh for it is
shown there: a renamed screenshot or a dropped image line cannot leave a broken picture or a
stale file behind."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _images() -> list[tuple[str, str]]:
    return IMAGE.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_every_image_in_the_readme_exists_and_is_described():
    images = _images()
    assert images, "the README shows no screenshots"
    for alt, path in images:
        assert (ROOT / path).is_file(), f"README shows {path}, which does not exist"
        assert len(alt.split()) >= 3, f"{path}: its alt text says too little ({alt!r})"


def test_every_docs_screenshot_is_shown_in_the_readme():
    shown = {path for _, path in _images()}
    for png in sorted((ROOT / "docs" / "screenshots").glob("*.png")):
        assert png.relative_to(ROOT).as_posix() in shown, f"{png.name} is not in the README"
