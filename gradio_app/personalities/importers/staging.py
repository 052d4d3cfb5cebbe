"""Writing an imported personality into the user zoo: all of it, or nothing.

Everything is first written to a staging folder inside the user zoo (same file system, and a
`_`-prefixed name the zoo scanner skips), checked by loading it as a personality, then moved into
place with one rename. A failure at any point removes the staging folder; an existing personality
is only replaced when asked, and only after the new one is complete.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.personality import CONFIG_FILE, Personality
from gradio_app.personalities.schema import MAX_CONFIG_BYTES, PersonalityError

STAGING_PREFIX = "_import-"


def slug(text: str, fallback: str = "personality") -> str:
    """A folder name from a display name: ASCII, lower case, words joined by underscores."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", ascii_text.lower())
    return "_".join(words)[:64].strip("_") or fallback


def safe_component(text: str, what: str) -> str:
    """A language/category/folder name usable as one path component, or ImportRejected."""
    cleaned = " ".join(str(text).split()).strip()
    if not cleaned or cleaned in (".", "..") or any(c in cleaned for c in "/\\:\0") or cleaned[0] in "._":
        raise ImportRejected(f"{what} {text!r} cannot be a folder name (no slashes, and no leading '.' or '_')")
    if len(cleaned) > 80:
        raise ImportRejected(f"{what} is longer than 80 characters")
    return cleaned


@contextmanager
def staging_folder(user_zoo: Path) -> Iterator[Path]:
    """A fresh folder to build the import in; removed on exit unless `publish` moved it away."""
    user_zoo.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=user_zoo))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_config(folder: Path, config: dict[str, Any]) -> None:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ImportRejected(
            f"the personality's config.yaml would be {len(text.encode()):,} bytes; the limit is {MAX_CONFIG_BYTES:,}"
        )
    (folder / CONFIG_FILE).write_text(text, encoding="utf-8")


def check_loads(folder: Path) -> Personality:
    try:
        return Personality.load(folder)
    except PersonalityError as e:
        raise ImportRejected(
            f"the imported personality does not load: {e.reason}" + (f" (field '{e.field}')" if e.field else "")
        ) from e


def publish(staged: Path, target: Path, replace: bool) -> None:
    """Move the complete staging folder to `target` (replacing it only when `replace`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if not replace:
            raise ImportRejected(f"{target.name} already exists in your zoo; choose Replace to overwrite it")
        trash = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}old-", dir=staged.parent))
        target.rename(trash / target.name)
        try:
            staged.rename(target)
        except OSError:
            (trash / target.name).rename(target)  # put the old one back
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staged.rename(target)
