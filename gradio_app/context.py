"""AppContext: the app's long-lived objects, built once at start and handed to the UI."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio_app.config import BUILTIN_ZOO, AppSettings, DataPaths
from gradio_app.discussions.ownership import Ownership
from gradio_app.discussions.schema import SchemaTooNew
from gradio_app.discussions.store import DiscussionStore
from gradio_app.fileio import write_problem
from gradio_app.generation.bindings.base import LoadOptions, ModelLoadError
from gradio_app.generation.model_files import FileHashes
from gradio_app.generation.models_zoo import DownloadError, HubStatus, ModelDownloads, hub_endpoint
from gradio_app.generation.service import GenerationService
from gradio_app.personalities.install import Installer, InstallEvent, InstallFinished
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.settings_controller import SettingsController
from gradio_app.workflows.runner import WorkflowRunner

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    paths: DataPaths
    controller: SettingsController
    service: GenerationService
    zoo: Zoo
    runner: WorkflowRunner
    notices: list[str] = field(default_factory=list)  # start-up problems to show the user
    store: DiscussionStore | None = None  # None only when the database cannot be opened
    ownership: Ownership = field(default_factory=Ownership)
    installer: Installer = field(default_factory=Installer)  # personality installs, one at a time
    # May visitors trust personalities from elsewhere (which lets their scripts run here)? Only
    # when the app is reachable by its owner alone, unless started with --allow-trust.
    allow_trust: bool = True
    downloads: ModelDownloads | None = None
    hub: HubStatus | None = None

    @property
    def settings(self) -> AppSettings:
        """The settings in force (global ones) and the defaults new sessions start from."""
        return self.controller.live

    @classmethod
    def create(
        cls,
        data_dir: Path,
        model_path: str | None = None,
        zoo_roots: list[Path] | None = None,
        load_model: bool = True,
        overrides: Mapping[str, Any] | None = None,
        override_problems: list[str] | None = None,
        locked: str = "",
        ownership: Ownership | None = None,
    ) -> AppContext:
        """`overrides`: flat settings from flags/environment for this run (see config.py)."""
        paths = DataPaths(Path(data_dir)).ensure()
        saved, notices = AppSettings.load(paths.settings_file)
        notices += override_problems or []
        overrides = dict(overrides or {})
        if model_path:
            overrides["model.path"] = model_path
        service = GenerationService(hashes=FileHashes(paths.model_hashes))
        controller = SettingsController(paths, saved, service, overrides, locked=locked)
        zoo = Zoo(zoo_roots or [BUILTIN_ZOO, paths.user_zoo], trusted_roots=[BUILTIN_ZOO])
        problem = write_problem(paths.root)
        if problem:
            message = (
                f"The data folder {paths.root} cannot be written ({problem}). The app runs, but nothing is "
                "saved in this run: discussions stay in memory until the app stops, and settings, a "
                "personality's settings, installs, imports and images cannot be saved. What was saved "
                "before is left untouched."
            )
            notices.append(message)
            log.error(message)
        store = None if problem else open_store(paths, notices)
        runner = WorkflowRunner(service, zoo, paths=paths)
        ctx = cls(paths, controller, service, zoo, runner, notices, store, ownership or Ownership())
        ctx.downloads = ModelDownloads(paths.models)
        ctx.hub = HubStatus(hub_endpoint())
        if load_model:
            ctx.load_model()
        return ctx

    def download_model_at_start(self, model_id: str) -> threading.Thread:
        """Fetch a models-zoo model in the background and switch to it once it is complete and
        verified (PWEBUI_DOWNLOAD_MODEL, e.g. on a Space). The app serves with the model it has
        meanwhile; a failed download is logged and the notice says so, nothing else changes."""
        assert self.downloads is not None
        try:
            job = self.downloads.start(model_id)
        except DownloadError as e:
            self.notices.append(f"PWEBUI_DOWNLOAD_MODEL: {e}")
            log.error("start-up download: %s", e)
            return threading.Thread()

        def adopt() -> None:
            job.finished.wait()
            if not job.ok:
                message = f"Could not download {job.model.name}: {job.error} Still using {self._model_name()}."
                self.notices.append(message)
                log.error("start-up download: %s", message)
                return
            try:
                info = self.controller.adopt_model_file(job.dest)
            except ModelLoadError as e:
                self.notices.append(f"{job.model.name} was downloaded but does not load: {e}")
                log.error("start-up download: %s", e)
                return
            if info is not None:
                log.warning("start-up download: now using %s (%s)", info.name, job.dest)

        log.warning("start-up download: fetching %s (%s) into %s", job.model.name, job.model.size, job.dest.parent)
        thread = threading.Thread(target=adopt, name=f"adopt-{model_id}", daemon=True)
        thread.start()
        return thread

    def _model_name(self) -> str:
        info = self.service.info
        return info.name if info is not None else "no model"

    def load_options(self) -> LoadOptions:
        """How the in-process model is loaded with the settings in force."""
        return self.controller.load_options(self.settings)

    def load_model(self) -> None:
        """Load the configured model or connect the configured server; if that fails, say why
        and fall back to the embedded default model."""
        self.notices.extend(self.controller.start())

    def new_session(self) -> ChatSession:
        """A session on the default personality (or the first usable one), welcome message shown,
        starting from the saved per-session settings."""
        session = ChatSession(personality_id=self.settings.default_personality)
        self.controller.session_defaults(session)
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

    def select_personality(
        self, session: ChatSession, personality_id: str, before_switch: Callable[[], object] | None = None
    ) -> Iterator[InstallEvent]:
        """Switch `session` to a personality: a new discussion with its welcome message. One that
        needs installing is installed first (its events pass through) and the switch happens only
        if that succeeded. `before_switch` runs just before it (the UI stops the old answer).
        Raises PersonalityError (unknown or broken) or InstallRefused (it may not be installed)."""
        personality = self.zoo.get(personality_id)
        if personality.needs_install:
            for event in self.installer.install(personality):
                yield event
                if isinstance(event, InstallFinished) and not event.ok:
                    return
        if before_switch is not None:
            before_switch()
        session.new_discussion(personality)

    def refresh_new_session(self, session: ChatSession) -> None:
        """A page's session is a copy of the one built at start-up: until it has a user message,
        bring it to the settings saved since (per-session defaults, default personality)."""
        if any(m.role == "user" for m in session.messages):
            return
        self.controller.session_defaults(session)
        wanted = self.settings.default_personality
        if session.personality_id != wanted:
            # a default that cannot load keeps the one the session has (reported where it is set)
            with contextlib.suppress(PersonalityError):
                session.new_discussion(self.zoo.get(wanted))


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
