"""A zip of a personality folder -> its files, extracted safely into a staging folder.

Refused: absolute paths, `..`, backslashes and drive letters (zip-slip), symlinks and other special
files, encrypted entries, more than MAX_ENTRIES entries, an archive larger than MAX_ZIP_BYTES, or
contents that expand past MAX_UNPACKED_BYTES (counted while decompressing: sizes in the headers
can lie). Markers that only mean something on the machine that wrote them (`.install`,
`.trusted`) are dropped: trust is given here, by the user, never shipped inside an archive.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.personality import CONFIG_FILE, INSTALL_MARKER, TRUST_MARKER

MAX_ZIP_BYTES = 50_000_000
MAX_UNPACKED_BYTES = 200_000_000
MAX_ENTRY_BYTES = 100_000_000
MAX_ENTRIES = 2_000
DROPPED_NAMES = frozenset({INSTALL_MARKER, TRUST_MARKER, ".install.log", ".DS_Store", "Thumbs.db"})
SKIPPED_DIRS = frozenset({"__pycache__", "__MACOSX", ".git"})
_CHUNK = 1 << 16


@dataclass
class Extracted:
    folder_name: str | None  # the zip's single top folder, if the files were inside one
    dropped: list[str] = field(default_factory=list)


def _member_path(info: zipfile.ZipInfo, source: str) -> PurePosixPath:
    name = info.filename
    if "\\" in name or re.match(r"^[A-Za-z]:", name) or name.startswith("/"):
        raise ImportRejected(f"{source}: unsafe path in the zip: {name!r} (absolute or Windows-style)")
    path = PurePosixPath(name)
    if any(part in ("..", "") for part in path.parts) or "\0" in name:
        raise ImportRejected(f"{source}: unsafe path in the zip: {name!r} (it points outside the folder)")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ImportRejected(f"{source}: the zip holds a symbolic link ({name!r}); links are not accepted")
    kind = stat.S_IFMT(mode)  # 0 when the writer did not record a file type
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise ImportRejected(f"{source}: the zip holds a special file ({name!r})")
    if info.flag_bits & 0x1:
        raise ImportRejected(f"{source}: {name!r} is encrypted")
    return path


def extract_personality_zip(archive: Path, staging: Path, source: str | None = None) -> Extracted:
    """Unpack the personality in `archive` into the empty folder `staging`."""
    source = source or archive.name
    try:
        size = archive.stat().st_size
    except OSError as e:
        raise ImportRejected(f"{source}: cannot read ({e.strerror})") from e
    if size > MAX_ZIP_BYTES:
        raise ImportRejected(f"{source}: the zip is {size:,} bytes; the limit is {MAX_ZIP_BYTES:,}")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise ImportRejected(f"{source}: not a valid zip file ({e})") from e
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise ImportRejected(f"{source}: the zip has {len(infos)} entries; the limit is {MAX_ENTRIES}")
        members = [(info, _member_path(info, source)) for info in infos]
        declared = sum(info.file_size for info in infos)
        if declared > MAX_UNPACKED_BYTES:
            raise ImportRejected(
                f"{source}: the zip unpacks to {declared:,} bytes; the limit is {MAX_UNPACKED_BYTES:,}"
            )
        prefix = _personality_root(members, source)
        result = Extracted(folder_name=prefix.name if prefix.parts else None)
        budget = MAX_UNPACKED_BYTES
        for info, path in members:
            relative = path.relative_to(prefix) if prefix.parts else path
            if not relative.parts:
                continue
            if any(part in SKIPPED_DIRS for part in relative.parts) or relative.name in DROPPED_NAMES:
                if relative.name in (INSTALL_MARKER, TRUST_MARKER):
                    result.dropped.append(relative.as_posix())
                continue
            if relative.suffix == ".pyc":
                continue
            target = staging.joinpath(*relative.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if info.file_size > MAX_ENTRY_BYTES:
                raise ImportRejected(
                    f"{source}: {info.filename!r} is {info.file_size:,} bytes; the limit is {MAX_ENTRY_BYTES:,}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            budget = _copy_member(zf, info, target, budget, source)
    return result


def _personality_root(members: list[tuple[zipfile.ZipInfo, PurePosixPath]], source: str) -> PurePosixPath:
    """Where config.yaml is: at the top of the zip, or inside its one top-level folder."""
    files = [p for info, p in members if not info.is_dir() and not (p.parts and p.parts[0] in SKIPPED_DIRS)]
    if PurePosixPath(CONFIG_FILE) in files:
        return PurePosixPath()
    tops = {p.parts[0] for p in files if len(p.parts) > 1}
    loose = [p for p in files if len(p.parts) == 1]
    if len(tops) == 1 and not loose:
        top = PurePosixPath(next(iter(tops)))
        if top / CONFIG_FILE in files:
            return top
    raise ImportRejected(
        f"{source}: no personality in this zip (expected {CONFIG_FILE} at its top, or in its single top folder)"
    )


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, source: str) -> int:
    written = 0
    try:
        with zf.open(info) as src, target.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                budget -= len(chunk)
                if written > info.file_size or budget < 0:
                    raise ImportRejected(f"{source}: {info.filename!r} expands past its declared size (zip bomb?)")
                dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as e:
        raise ImportRejected(f"{source}: {info.filename!r} cannot be extracted ({e})") from e
    except RuntimeError as e:  # zipfile raises it for encrypted members
        raise ImportRejected(f"{source}: {info.filename!r} cannot be extracted ({e})") from e
    return budget
