"""GGUF model files on disk: finding them in the models folders, and reading their facts.

The facts (name, quantization, trained context, chat template present) come from the GGUF header,
read directly: the model list can describe every file without loading any of them, and a
downloaded file is checked to be a readable GGUF before it is offered as a model. A loaded file's
SHA-256 (which exact file wrote an answer) is computed in the background by `FileHashes`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from gradio_app.fileio import atomic_write_text

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
# Reading stops after this much header: facts we want come before the big tokenizer arrays.
_HEADER_BUDGET_BYTES = 16 * 2**20
_SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
_MAX_DEPTH = 3  # models/<org>/<repo>/file.gguf


class GGUFError(ValueError):
    """The file is not a readable GGUF model (the message says why)."""


def quantization_name(file_type: Any) -> str:
    """`general.file_type` (an enum number) as llama.cpp names it: 15 -> "Q4_K_M"."""
    try:
        value = int(file_type)
    except (TypeError, ValueError):
        return "unknown"
    names = _ftype_names()
    return names.get(value, f"type {value}")


def _ftype_names() -> dict[int, str]:
    import llama_cpp  # the enum lives with the library that loads the files

    names: dict[int, str] = {}
    for key, value in vars(llama_cpp).items():
        if key.startswith("LLAMA_FTYPE_") and key != "LLAMA_FTYPE_GUESSED" and isinstance(value, int):
            names[value] = key.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_")
    return names


@dataclass(frozen=True)
class GGUFFacts:
    """What a GGUF header says about the model (the subset the UI shows)."""

    version: int
    name: str = ""
    architecture: str = ""
    file_type: int | None = None
    context_length: int | None = None
    has_chat_template: bool = False
    size_label: str = ""
    license: str = ""
    complete: bool = True  # False when the header was too large to read to the end

    @property
    def quantization(self) -> str:
        return quantization_name(self.file_type) if self.file_type is not None else "unknown"


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.read_bytes = 0

    def take(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise GGUFError("the file ends inside its header (truncated or still downloading?)")
        self.read_bytes += n
        return data

    def skip(self, n: int) -> None:
        self._f.seek(n, 1)
        self.read_bytes += n

    def scalar(self, kind: int) -> Any:
        fmt = _SCALARS[kind]
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        (length,) = struct.unpack("<Q", self.take(8))
        if length > _HEADER_BUDGET_BYTES:
            raise GGUFError("the header holds an impossibly long string (not a GGUF file?)")
        return self.take(length).decode("utf-8", errors="replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.scalar(kind)
        if kind == _STRING:
            if keep:
                return self.string()
            (length,) = struct.unpack("<Q", self.take(8))
            self.skip(length)
            return None
        if kind == _ARRAY:
            item_kind, count = struct.unpack("<IQ", self.take(12))
            if item_kind in _SCALARS:
                self.skip(struct.calcsize(_SCALARS[item_kind]) * count)
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None
        raise GGUFError(f"unknown metadata type {kind} in the header (not a GGUF file, or a newer version)")


def read_gguf_facts(path: Path) -> GGUFFacts:
    """Parse the GGUF metadata header. GGUFError when the file is not a readable GGUF."""
    try:
        with path.open("rb") as f:
            reader = _Reader(f)
            if reader.take(4) != GGUF_MAGIC:
                raise GGUFError(f"{path.name} is not a GGUF file (it does not start with the GGUF signature)")
            version = reader.scalar(4)
            if version not in (2, 3):
                raise GGUFError(f"{path.name} is GGUF version {version}; this llama.cpp reads versions 2 and 3")
            _tensors, kv_count = struct.unpack("<QQ", reader.take(16))
            found: dict[str, Any] = {}
            complete = True
            for _ in range(kv_count):
                if reader.read_bytes > _HEADER_BUDGET_BYTES:
                    complete = False
                    break
                key = reader.string()
                kind = reader.scalar(4)
                wanted = key.startswith("general.") or key.endswith(".context_length")
                value = reader.value(kind, keep=wanted)
                if key == "tokenizer.chat_template":
                    found[key] = True
                elif wanted:
                    found[key] = value
    except OSError as e:
        raise GGUFError(f"cannot read {path.name}: {e.strerror or e}") from e
    except (struct.error, UnicodeDecodeError) as e:
        raise GGUFError(f"{path.name} has a damaged header ({e})") from e
    arch = str(found.get("general.architecture") or "")
    context = found.get(f"{arch}.context_length")
    file_type = found.get("general.file_type")
    return GGUFFacts(
        version=version,
        name=str(found.get("general.name") or ""),
        architecture=arch,
        file_type=int(file_type) if isinstance(file_type, int) else None,
        context_length=int(context) if isinstance(context, int) else None,
        has_chat_template=bool(found.get("tokenizer.chat_template")),
        size_label=str(found.get("general.size_label") or ""),
        license=str(found.get("general.license") or ""),
        complete=complete,
    )


@dataclass(frozen=True)
class ModelFile:
    """A .gguf file found in a models folder."""

    path: Path
    size_bytes: int
    folder: Path
    facts: GGUFFacts | None = None
    problem: str = ""  # why the header could not be read (the file is still listed)
    parts: int = 1  # split models: how many files (only the first is listed)

    @property
    def label(self) -> str:
        """What the model list shows: file name, quantization, size, and the folder."""
        bits = [self.path.name]
        if self.facts is not None and self.facts.file_type is not None:
            bits.append(self.facts.quantization)
        bits.append(format_size(self.size_bytes))
        if self.parts > 1:
            bits.append(f"{self.parts} parts")
        if self.problem:
            bits.append("⚠️ unreadable")
        where = _short(self.folder)
        return f"{' · '.join(bits)}  ({where})"


def format_size(size: int) -> str:
    if size >= 2**30:
        return f"{size / 2**30:.1f} GiB"
    if size >= 2**20:
        return f"{size / 2**20:.0f} MiB"
    return f"{size / 2**10:.0f} KiB"


def _short(folder: Path) -> str:
    try:
        return "~/" + str(folder.relative_to(Path.home()))
    except ValueError:
        return str(folder)


def find_models(folders: Iterable[Path]) -> list[ModelFile]:
    """Every .gguf model in `folders` (a few levels deep), first part only for split models.

    Skipped: hidden files, vision projectors (mmproj*), unfinished downloads (*.part).
    """
    seen: set[Path] = set()
    found: list[ModelFile] = []
    for folder in folders:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            continue
        for path in sorted(_walk(folder, 0), key=lambda p: p.name.lower()):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            found.append(_describe(path, folder))
    return found


def _walk(folder: Path, depth: int) -> Iterable[Path]:
    try:
        children = list(folder.iterdir())
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir() and depth < _MAX_DEPTH:
            yield from _walk(child, depth + 1)
        elif child.is_file() and child.name.lower().endswith(".gguf") and not child.name.lower().startswith("mmproj"):
            split = _SPLIT_PART.search(child.name)
            if split and split.group(1) != "00001":
                continue
            yield child


def _describe(path: Path, folder: Path) -> ModelFile:
    split = _SPLIT_PART.search(path.name)
    parts, size = 1, 0
    if split:
        parts = int(split.group(2))
        stem = path.name[: split.start()]
        for i in range(1, parts + 1):
            part = path.with_name(f"{stem}-{i:05d}-of-{parts:05d}.gguf")
            size += part.stat().st_size if part.exists() else 0
    else:
        size = path.stat().st_size
    facts = cached_facts(path)
    if isinstance(facts, str):
        return ModelFile(path, size, folder, None, problem=facts, parts=parts)
    return ModelFile(path, size, folder, facts, parts=parts)


_FACTS_CACHE: dict[tuple[str, int, int], GGUFFacts | str] = {}
_FACTS_LOCK = threading.Lock()


def cached_facts(path: Path) -> GGUFFacts | str:
    """read_gguf_facts, remembered per (file, size, mtime): the model list is drawn often and a
    big vocabulary takes a noticeable fraction of a second to skip. A problem comes back as text."""
    try:
        stat = path.stat()
    except OSError as e:
        return f"cannot read {path.name}: {e.strerror or e}"
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _FACTS_LOCK:
        if key in _FACTS_CACHE:
            return _FACTS_CACHE[key]
    try:
        facts: GGUFFacts | str = read_gguf_facts(path)
    except GGUFError as e:
        facts = str(e)
    with _FACTS_LOCK:
        _FACTS_CACHE[key] = facts
    return facts


def resolve_model_path(value: str, folders: Iterable[Path]) -> Path:
    """A configured model path as a file: absolute as given; relative to the first models folder
    holding it (so a data folder can move), else to the working directory."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    for folder in folders:
        candidate = Path(folder).expanduser() / path
        if candidate.exists():
            return candidate
    return path.resolve()


def setting_path_for(path: Path, models_folder: Path) -> str:
    """How a chosen file is written in settings: relative when inside the data's models folder."""
    try:
        return str(path.resolve().relative_to(models_folder.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model list the UI offers: a value for model.path, and its label."""

    value: str  # "" = the embedded default
    label: str
    file: ModelFile | None = field(default=None, compare=False)


# Answers record this many hex digits of a model file's SHA-256: enough to tell files apart.
HASH_PREFIX_LEN = 12
_HASH_CHUNK = 4 * 2**20
_HashKey = tuple[str, int, int]  # resolved path, size, mtime_ns: a changed file is hashed anew


class FileHashes:
    """SHA-256 of model files, each computed once per (path, size, mtime), in a background thread.

    Why: a stored answer names the exact file that wrote it, but hashing a multi-GB GGUF takes
    seconds, so neither a model load nor an answer waits for it (answers before it is known record
    the file and its size only). Known hashes stay in memory and, given `cache_file`, in a small
    JSON file, so a re-load or a restart does not read the whole file again.
    """

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self._lock = threading.Lock()
        self._known: dict[_HashKey, str] | None = None  # loaded from cache_file on first use
        self._pending: dict[_HashKey, list[Callable[[str], None]]] = {}
        self.computed = 0  # files actually read (so a test can see a cache hit)

    def known(self, path: Path) -> str | None:
        """The full hex digest if it is known for the file as it is now, else None."""
        key = _hash_key(path)
        if key is None:
            return None
        with self._lock:
            return self._cache().get(key)

    def request(self, path: Path, on_done: Callable[[str], None] | None = None) -> str | None:
        """The digest if known now (`on_done` is then not called); otherwise None, and the file
        is hashed in the background (at most one thread per file) and `on_done` gets the digest."""
        key = _hash_key(path)
        if key is None:
            return None
        with self._lock:
            digest = self._cache().get(key)
            if digest is not None:
                return digest
            waiting = self._pending.get(key)
            if waiting is not None:
                if on_done is not None:
                    waiting.append(on_done)
                return None
            self._pending[key] = [on_done] if on_done is not None else []
        threading.Thread(target=self._hash, args=(key,), name="model-hash", daemon=True).start()
        return None

    def wait(self, path: Path, timeout: float) -> str | None:
        """Block until the digest of `path` is known (starting the hash if needed); None on timeout."""
        done = threading.Event()
        found: list[str] = []

        def keep(digest: str) -> None:
            found.append(digest)
            done.set()

        digest = self.request(path, keep)
        if digest is not None:
            return digest
        done.wait(timeout)
        return found[0] if found else None

    def _hash(self, key: _HashKey) -> None:
        _lower_thread_priority()
        digest: str | None = None
        try:
            hasher = hashlib.sha256()
            with open(key[0], "rb") as f:
                while chunk := f.read(_HASH_CHUNK):
                    hasher.update(chunk)
            digest = hasher.hexdigest()
        except OSError as e:
            log.warning("could not hash %s: %s", key[0], e)
        with self._lock:
            callbacks = self._pending.pop(key, [])
            if digest is None or _hash_key(Path(key[0])) != key:  # changed while read: not this file's
                return
            self.computed += 1
            known = self._cache()
            for other in [k for k in known if k[0] == key[0]]:  # one entry per path: the latest
                del known[other]
            known[key] = digest
            self._save(known)
        for callback in callbacks:
            try:
                callback(digest)
            except Exception:
                log.exception("a model hash callback failed")

    def _cache(self) -> dict[_HashKey, str]:
        """The known digests (caller holds the lock); read from cache_file the first time."""
        if self._known is None:
            self._known = {}
            try:
                if self.cache_file is not None and self.cache_file.is_file():
                    for path, entry in json.loads(self.cache_file.read_text(encoding="utf-8")).items():
                        self._known[(path, int(entry["size"]), int(entry["mtime_ns"]))] = str(entry["sha256"])
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
                log.warning("ignoring the model hash cache %s: %s", self.cache_file, e)
        return self._known

    def _save(self, known: dict[_HashKey, str]) -> None:
        if self.cache_file is None:
            return
        data = {p: {"size": size, "mtime_ns": mtime, "sha256": d} for (p, size, mtime), d in known.items()}
        try:
            atomic_write_text(self.cache_file, json.dumps(data, indent=1, sort_keys=True))
        except OSError as e:  # a read-only data folder: the hash is still known for this run
            log.warning("could not save the model hash cache %s: %s", self.cache_file, e)


def _hash_key(path: Path) -> _HashKey | None:
    try:
        real = Path(path).resolve()
        stat = real.stat()
    except OSError:
        return None
    return (str(real), stat.st_size, stat.st_mtime_ns)


def _lower_thread_priority() -> None:
    """Hashing yields the CPU to generation (on Linux, a thread's nice value is its own)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


# One per process by default: every service that loads a file shares what was already hashed.
MODEL_HASHES = FileHashes()
