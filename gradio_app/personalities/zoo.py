"""The zoo: personalities found under one or more root folders, as language -> category -> name.

A folder that fails to load is still listed, with its error, so a broken personality is visible
and explained instead of silently missing; it just cannot be selected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gradio_app.personalities.personality import CONFIG_FILE, Personality
from gradio_app.personalities.schema import PersonalityError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ZooEntry:
    id: str
    language: str
    category: str
    folder: Path
    root: Path
    personality: Personality | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.personality.name if self.personality else self.folder.name

    @property
    def ok(self) -> bool:
        return self.personality is not None


def _subdirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError:
        return []


class Zoo:
    """Scans its roots in order; when two roots hold the same id, the first root wins.

    Personalities under a `trusted_roots` folder (the zoo shipped with the app) may run their
    scripts; the others need the user's explicit trust first (Personality.trusted).
    """

    def __init__(self, roots: list[Path], trusted_roots: list[Path] | None = None) -> None:
        self.roots = [Path(r) for r in roots]
        self.trusted_roots = {Path(r).resolve() for r in (trusted_roots or [])}
        self.entries: dict[str, ZooEntry] = {}
        self.scan()

    def scan(self) -> None:
        entries: dict[str, ZooEntry] = {}
        for root in self.roots:
            for lang_dir in _subdirs(root):
                for cat_dir in _subdirs(lang_dir):
                    for folder in _subdirs(cat_dir):
                        if not (folder / CONFIG_FILE).exists():
                            continue
                        pid = f"{lang_dir.name}/{cat_dir.name}/{folder.name}"
                        if pid in entries:
                            continue
                        entries[pid] = self._load_entry(pid, folder, root, root.resolve() in self.trusted_roots)
        self.entries = entries

    @staticmethod
    def _load_entry(pid: str, folder: Path, root: Path, builtin: bool) -> ZooEntry:
        language, category, _ = pid.split("/")
        try:
            personality = Personality.load(folder, pid, builtin=builtin)
        except PersonalityError as e:
            log.warning("personality %s not loaded: %s", pid, e)
            return ZooEntry(pid, language, category, folder, root, error=str(e))
        return ZooEntry(pid, language, category, folder, root, personality=personality)

    def languages(self) -> list[str]:
        return sorted({e.language for e in self.entries.values()})

    def categories(self, language: str) -> list[str]:
        return sorted({e.category for e in self.entries.values() if e.language == language})

    def in_category(self, language: str, category: str) -> list[ZooEntry]:
        found = [e for e in self.entries.values() if e.language == language and e.category == category]
        return sorted(found, key=lambda e: e.name.lower())

    def errors(self) -> list[ZooEntry]:
        return [e for e in self.entries.values() if not e.ok]

    def get(self, personality_id: str) -> Personality:
        """The personality with this id, or PersonalityError saying why it cannot be used."""
        entry = self.entries.get(personality_id)
        if entry is None:
            raise PersonalityError(personality_id, "no such personality in the zoo")
        if entry.personality is None:
            raise PersonalityError(personality_id, entry.error or "failed to load")
        return entry.personality
