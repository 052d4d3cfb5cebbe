"""The zoo: personalities found under one or more root folders, as language -> category -> name.

A folder that fails to load is still listed, with its error (file and field), so a broken
personality is visible and explained instead of silently missing; it just cannot be selected.

Re-scanning is cheap: a personality whose config.yaml has not changed since the last scan (same
size, mtime and inode) is reused instead of parsed again, so the zoo can be re-scanned after every
install, import or `add_personality` without the tab noticing.
"""

from __future__ import annotations

import logging
import os
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from gradio_app.personalities.personality import CONFIG_FILE, Personality
from gradio_app.personalities.schema import PersonalityError

log = logging.getLogger(__name__)


def fold(text: str) -> str:
    """Lower-case, accent-free form of `text`, so "Écrivain" is found by "ecrivain"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class ZooEntry:
    id: str
    language: str
    category: str
    folder: Path
    root: Path
    personality: Personality | None = None
    error: str | None = None
    error_file: str | None = None
    error_field: str | None = None
    builtin: bool = False
    # fold()ed name, then description, author and id: what search matches against.
    search_name: str = field(default="", repr=False, compare=False)
    search_text: str = field(default="", repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.personality.name if self.personality else self.folder.name

    @property
    def ok(self) -> bool:
        return self.personality is not None

    @property
    def description(self) -> str:
        return self.personality.config.personality_description.strip() if self.personality else ""


def _subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders; hidden or `_`-prefixed ones (staging folders of imports) are skipped."""
    try:
        with os.scandir(folder) as it:
            found = [Path(e.path) for e in it if not e.name.startswith((".", "_")) and e.is_dir()]
    except OSError:
        return []
    return sorted(found)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Zoo:
    """Scans its roots in order; when two roots hold the same id, the first root wins.

    Personalities under a `trusted_roots` folder (the zoo shipped with the app) may run their
    scripts; the others need the user's explicit trust first (Personality.trusted).
    """

    def __init__(self, roots: list[Path], trusted_roots: list[Path] | None = None) -> None:
        self.roots = [Path(r) for r in roots]
        self.trusted_roots = {Path(r).resolve() for r in (trusted_roots or [])}
        self.entries: dict[str, ZooEntry] = {}
        self._cache: dict[Path, tuple[tuple[int, int, int], ZooEntry]] = {}
        self._lock = threading.Lock()
        self.scan()

    def scan(self) -> None:
        """Re-read the roots. The new listing replaces the old one in a single assignment, so a
        reader never sees a half-built zoo."""
        with self._lock:
            entries: dict[str, ZooEntry] = {}
            cache: dict[Path, tuple[tuple[int, int, int], ZooEntry]] = {}
            for root in self.roots:
                builtin = root.resolve() in self.trusted_roots
                for lang_dir in _subdirs(root):
                    for cat_dir in _subdirs(lang_dir):
                        for folder in _subdirs(cat_dir):
                            pid = f"{lang_dir.name}/{cat_dir.name}/{folder.name}"
                            if pid in entries:
                                continue
                            signature = _signature(folder / CONFIG_FILE)
                            if signature is None:
                                continue
                            cached = self._cache.get(folder)
                            if cached and cached[0] == signature and cached[1].builtin == builtin:
                                entry = cached[1]
                            else:
                                entry = _load_entry(pid, folder, root, builtin)
                            entries[pid] = entry
                            cache[folder] = (signature, entry)
            self._cache = cache
            self.entries = entries

    rescan = scan

    def languages(self) -> list[str]:
        return sorted({e.language for e in self.entries.values()})

    def categories(self, language: str) -> list[str]:
        return sorted({e.category for e in self.entries.values() if e.language == language})

    def in_category(self, language: str, category: str) -> list[ZooEntry]:
        found = [e for e in self.entries.values() if e.language == language and e.category == category]
        return sorted(found, key=lambda e: e.name.lower())

    def errors(self) -> list[ZooEntry]:
        return sorted((e for e in self.entries.values() if not e.ok), key=lambda e: e.id)

    def search(self, query: str, language: str | None = None) -> list[ZooEntry]:
        """Entries whose name, description, author or id contain every word of `query` (case and
        accents ignored); name matches first. An empty query matches nothing."""
        words = fold(query).split()
        if not words:
            return []
        hits: list[tuple[int, str, ZooEntry]] = []
        for entry in self.entries.values():
            if language and entry.language != language:
                continue
            if not all(w in entry.search_text for w in words):
                continue
            if entry.search_name.startswith(words[0]):
                rank = 0
            elif all(w in entry.search_name for w in words):
                rank = 1
            else:
                rank = 2
            hits.append((rank, entry.search_name, entry))
        hits.sort(key=lambda h: (h[0], h[1], h[2].id))
        return [h[2] for h in hits]

    def ids_outside(self, root: Path) -> set[str]:
        """Ids that another root provides: a personality added to `root` under one of them would
        be hidden (the first root wins), so importers refuse them."""
        root = Path(root).resolve()
        return {pid for pid, e in self.entries.items() if e.root.resolve() != root}

    def entry(self, personality_id: str) -> ZooEntry | None:
        return self.entries.get(personality_id)

    def get(self, personality_id: str) -> Personality:
        """The personality with this id, or PersonalityError saying why it cannot be used."""
        entry = self.entries.get(personality_id)
        if entry is None:
            raise PersonalityError(personality_id, "no such personality in the zoo")
        if entry.personality is None:
            raise PersonalityError(personality_id, entry.error or "failed to load")
        return entry.personality


def _load_entry(pid: str, folder: Path, root: Path, builtin: bool) -> ZooEntry:
    language, category, _ = pid.split("/")
    try:
        personality = Personality.load(folder, pid, builtin=builtin)
    except PersonalityError as e:
        log.warning("personality %s not loaded: %s", pid, e)
        return ZooEntry(
            pid,
            language,
            category,
            folder,
            root,
            error=str(e),
            error_file=e.path,
            error_field=e.field,
            builtin=builtin,
            search_name=fold(folder.name),
            search_text=fold(f"{folder.name}\n{pid}"),
        )
    c = personality.config
    return ZooEntry(
        pid,
        language,
        category,
        folder,
        root,
        personality=personality,
        builtin=builtin,
        search_name=fold(c.name),
        search_text=fold(f"{c.name}\n{c.personality_description}\n{c.author}\n{pid}"),
    )
