"""AppContext: the app's long-lived objects, built once at start and handed to the UI."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from gradio_app.config import BUILTIN_ZOO, AppSettings, DataPaths
from gradio_app.discussions.ownership import Ownership
from gradio_app.discussions.schema import SchemaTooNew
from gradio_app.discussions.store import DiscussionStore
from gradio_app.generation.bindings.base import LoadOptions, ModelLoadError
from gradio_app.generation.default_model import DefaultModelMissing, default_model_path
from gradio_app.generation.service import GenerationService
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.runner import WorkflowRunner

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    paths: DataPaths
    settings: AppSettings
    service: GenerationService
    zoo: Zoo
    runner: WorkflowRunner
    notices: list[str] = field(default_factory=list)  # start-up problems to show the user
    store: DiscussionStore | None = None  # None only when the database cannot be opened
    ownership: Ownership = field(default_factory=Ownership)

    @classmethod
    def create(
        cls,
        data_dir: Path,
        model_path: str | None = None,
        zoo_roots: list[Path] | None = None,
        load_model: bool = True,
        ownership: Ownership | None = None,
    ) -> AppContext:
        paths = DataPaths(Path(data_dir)).ensure()
        settings, notices = AppSettings.load(paths.settings_file)
        if model_path:
            settings.model_path = model_path
        service = GenerationService()
        zoo = Zoo(zoo_roots or [BUILTIN_ZOO, paths.user_zoo], trusted_roots=[BUILTIN_ZOO])
        store = open_store(paths, notices)
        ctx = cls(paths, settings, service, zoo, WorkflowRunner(service, zoo), notices, store, ownership or Ownership())
        if load_model:
            ctx.load_model()
        return ctx

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            n_ctx=self.settings.n_ctx,
            n_threads=self.settings.n_threads,
            state_cache_bytes=self.settings.state_cache_mb * 2**20,
        )

    def load_model(self) -> None:
        """Load the configured model; if that fails, say why and fall back to the default one."""
        wanted = self.settings.model_path
        try:
            if wanted:
                try:
                    self.service.load(wanted, self.load_options())
                    return
                except ModelLoadError as e:
                    self.notices.append(f"{e} — using the embedded default model instead.")
            self.service.load(default_model_path(), self.load_options())
        except (ModelLoadError, DefaultModelMissing) as e:
            self.notices.append(str(e))
            log.error("no model loaded: %s", e)

    def new_session(self) -> ChatSession:
        """A session on the default personality (or the first usable one), welcome message shown."""
        session = ChatSession(
            personality_id=self.settings.default_personality,
            override=self.settings.override_personality_params,
            user_params=self.settings.user_params,
            prompt_format=self.settings.prompt_format,
        )
        session.store = self.store  # saved once the UI knows the owner (see ui/discussion_tab.py)
        try:
            personality = self.zoo.get(self.settings.default_personality)
        except PersonalityError as e:
            usable = [entry for entry in self.zoo.entries.values() if entry.ok]
            if not usable:
                self.notices.append(f"No usable personality in the zoo ({e}).")
                return session
            personality = usable[0].personality
            assert personality is not None
        session.new_discussion(personality)
        return session


def open_store(paths: DataPaths, notices: list[str]) -> DiscussionStore | None:
    """The discussions database; if it cannot be opened, say so and leave the file untouched."""
    try:
        return DiscussionStore(paths.discussions_db)
    except (sqlite3.Error, SchemaTooNew, OSError) as e:
        message = (
            f"The discussions database {paths.discussions_db} could not be opened ({e}). "
            "Discussions are NOT saved in this run; the file was left as it is."
        )
        notices.append(message)
        log.error(message)
        return None
