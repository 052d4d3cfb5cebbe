"""A source zoo to copy personalities from: a local folder, or a git repository cloned for the time
of one `add_personality` run. Copies land in the user zoo all at once (staging + rename)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.importers.staging import publish, staging_folder
from gradio_app.personalities.personality import CONFIG_FILE, INSTALL_MARKER, TRUST_MARKER, Personality
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo, ZooEntry

CLONE_TIMEOUT_S = 300
# Machine-local state of the source: never copied (trust and install are decided here).
NOT_COPIED = frozenset({INSTALL_MARKER, TRUST_MARKER, ".install.log", "__pycache__", ".git", ".DS_Store"})
_GIT_URL = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:")


class SourceError(RuntimeError):
    """The source zoo cannot be read (missing folder, failed clone, no personalities in it)."""


def is_git_url(source: str) -> bool:
    return bool(_GIT_URL.match(source)) or (source.endswith(".git") and not Path(source).exists())


def find_zoo_root(folder: Path) -> Path:
    """The folder holding <language>/<category>/<name>/config.yaml: `folder` itself, or one of its
    sub-folders (repositories often keep the zoo in e.g. `personalities_zoo/`)."""

    def holds_zoo(path: Path) -> bool:
        return any(path.glob(f"*/*/*/{CONFIG_FILE}"))

    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder")
    if holds_zoo(folder):
        return folder
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if holds_zoo(sub):
            return sub
    raise SourceError(f"no personalities in {folder} (expected <language>/<category>/<name>/{CONFIG_FILE})")


@contextmanager
def open_source(source: str) -> Iterator[Zoo]:
    """The source as a Zoo (never trusted), from a folder or a shallow clone of a git URL."""
    if not is_git_url(source):
        yield Zoo([find_zoo_root(Path(source).expanduser())])
        return
    with tempfile.TemporaryDirectory(prefix="pwebui-source-") as tmp:
        clone(source, Path(tmp) / "zoo")
        yield Zoo([find_zoo_root(Path(tmp) / "zoo")])


def clone(url: str, into: Path) -> None:
    try:
        done = subprocess.run(
            ["git", "clone", "--depth", "1", "--quiet", url, str(into)],
            capture_output=True,
            text=True,
            timeout=CLONE_TIMEOUT_S,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # never hang on a password prompt
        )
    except FileNotFoundError as e:
        raise SourceError("git is not installed: install it, or clone the zoo yourself and pass its folder") from e
    except subprocess.TimeoutExpired as e:
        raise SourceError(f"cloning {url} took more than {CLONE_TIMEOUT_S} s; is the network up?") from e
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise SourceError(
            f"could not clone {url}: {reason}\n"
            "Without network access, clone the zoo on a connected machine and pass its folder with --source."
        )


@dataclass(frozen=True)
class Copied:
    personality_id: str
    folder: Path
    name: str
    has_scripts: bool
    skipped_links: tuple[str, ...] = ()


def copy_into(entry: ZooEntry, user_zoo: Path, force: bool = False) -> Copied:
    """Copy one source personality into the user zoo under the same id. Refuses a broken one, and
    an existing one unless `force`. Symbolic links are not followed (nor copied)."""
    if entry.personality is None:
        raise ImportRejected(f"{entry.id} does not load: {entry.error}")
    target = user_zoo.joinpath(*entry.id.split("/"))
    if target.exists() and not force:
        raise ImportRejected(f"{entry.id} is already in your zoo ({target}); use --force to overwrite it")
    skipped: list[str] = []

    def ignore(folder: str, names: list[str]) -> set[str]:
        out = {n for n in names if n in NOT_COPIED or n.endswith(".pyc")}
        for n in names:
            if (Path(folder) / n).is_symlink():
                out.add(n)
                skipped.append(str((Path(folder) / n).relative_to(entry.folder)))
        return out

    with staging_folder(user_zoo) as staged:
        copy = staged / entry.folder.name
        shutil.copytree(entry.folder, copy, ignore=ignore)
        try:
            personality = Personality.load(copy, entry.id)
        except PersonalityError as e:  # the source changed between the scan and the copy
            raise ImportRejected(f"{entry.id}: the copy does not load: {e}") from e
        has_scripts = personality.has_scripts  # asked before the folder moves
        publish(copy, target, replace=force)
    return Copied(entry.id, target, personality.name, has_scripts, tuple(skipped))
