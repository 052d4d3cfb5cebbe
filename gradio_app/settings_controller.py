"""SettingsController: what "Apply changes", "Save" and "Reset to defaults" mean.

Two scopes (docs/settings.md):
- **global**: the model and binding (one model, shared by every user of this server), the model
  folders and the default personality. Applying them changes the app for everyone, now.
- **per browser session**: prompt format, the override checkbox and the user's sampling values.
  Applying them changes only this browser's next generation.

Apply = in force now, until the app restarts. Save = write the settings file: what a restart (and
every new session) starts from. A restart without saving brings back the saved values, and
`unsaved()` lists what would be lost. Flags and environment variables override the file for one
run; saving never writes an override back unless the user changed that value in the page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio_app.config import (
    GLOBAL_KEYS,
    SETTINGS,
    SETTINGS_BY_NAME,
    AppSettings,
    DataPaths,
    sd_models_dir,
)
from gradio_app.generation.bindings.base import LoadOptions, ModelInfo, ModelLoadError
from gradio_app.generation.bindings.openai_compat import OpenAICompatBinding, ServerOptions
from gradio_app.generation.default_model import DEFAULT_MODEL_LABEL, DefaultModelMissing, default_model_path
from gradio_app.generation.model_files import (
    ModelChoice,
    cached_facts,
    find_models,
    format_size,
    quantization_name,
    resolve_model_path,
)
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationService
from gradio_app.session import ChatSession

log = logging.getLogger(__name__)

_USER_PARAM_PREFIX = "user_params."


@dataclass(frozen=True)
class Change:
    """One setting that differs between two states (e.g. saved and in force)."""

    key: str
    before: Any
    after: Any

    def describe(self) -> str:
        key = SETTINGS_BY_NAME[self.key]
        return f"`{self.key}`: {key.show(self.before)} → {key.show(self.after)}"


@dataclass
class ApplyReport:
    """What an Apply (or Save) did: the changes now in force, and what failed (nothing half-done)."""

    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reloaded: str = ""  # "" when the model/binding was not touched
    saved_to: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def diff(before: AppSettings, after: AppSettings) -> list[Change]:
    old, new = before.flat(), after.flat()
    return [Change(name, old[name], new[name]) for name in old if old[name] != new[name]]


def _needs_activation(before: AppSettings, after: AppSettings) -> bool:
    """Whether going from `before` to `after` means loading a model or reconnecting."""
    if before.binding.kind != after.binding.kind:
        return True
    changed = {c.key for c in diff(before, after)}
    keys = (k for k in SETTINGS if k.name in changed)
    if after.binding.kind == "openai":
        return any(k.connects_server for k in keys)
    return any(k.loads_model for k in keys)


class SettingsController:
    """Owns the settings in force and the saved ones; loads models and connects servers."""

    def __init__(
        self,
        paths: DataPaths,
        saved: AppSettings,
        service: GenerationService,
        overrides: Mapping[str, Any] | None = None,
        locked: str = "",
    ) -> None:
        self.paths = paths
        self.service = service
        self.saved = saved  # what the settings file holds
        self.overrides: dict[str, Any] = dict(overrides or {})  # flags / environment, this run only
        self.live = saved.with_values(self.overrides)  # global settings in force; defaults of new sessions
        self.locked = locked  # non-empty: why global settings cannot be changed from the page
        self._lock = threading.RLock()  # one Apply/Save at a time (a model load takes seconds)

    # -- the views a page needs ---------------------------------------------------------------
    def current(self, session: ChatSession) -> AppSettings:
        """The settings in force for this browser: the global ones + this session's own."""
        return self.live.with_values(
            {
                "prompt_format": session.prompt_format,
                "override_personality_params": session.override,
                **{f"{_USER_PARAM_PREFIX}{k}": v for k, v in session.user_params.to_dict().items()},
            }
        )

    def startup_values(self) -> AppSettings:
        """What a restart would start from: the saved file plus this run's overrides."""
        return self.saved.with_values(self.overrides)

    def baseline(self) -> dict[str, Any]:
        """The global values a page is drawn with, kept by the page and handed back to `apply`
        (the API key stays out: the page never sees it)."""
        return {name: self.live.get(name) for name in GLOBAL_KEYS if name != "binding.api_key"}

    def unsaved(self, session: ChatSession) -> list[Change]:
        """Settings in force for this browser that a restart would lose."""
        return diff(self.startup_values(), self.current(session))

    @staticmethod
    def defaults() -> AppSettings:
        """The documented defaults (docs/settings.md), for "Reset to defaults"."""
        return AppSettings()

    def session_defaults(self, session: ChatSession) -> None:
        """Give a new session the saved per-session values."""
        session.prompt_format = self.live.prompt_format
        session.override = self.live.override_personality_params
        session.user_params = self.live.user_params

    # -- validation --------------------------------------------------------------------------
    @staticmethod
    def validate(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Strict check of values from the page (flat names). Any error -> nothing is applied."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for name, value in raw.items():
            key = SETTINGS_BY_NAME.get(name)
            if key is None:
                errors.append(f"unknown setting '{name}'")
                continue
            try:
                values[name] = key.check(value, from_text=isinstance(value, str))
            except ValueError as e:
                errors.append(f"{name}: {e}")
        if not errors and _user_params(values):
            try:  # the combination must make a GenerationParams too
                GenerationParams.from_dict(_user_params(values))
            except ValueError as e:
                errors.append(str(e))
        return values, errors

    # -- apply / save ----------------------------------------------------------------------------
    def apply(
        self,
        session: ChatSession,
        raw: Mapping[str, Any],
        baseline: Mapping[str, Any] | None = None,
        *,
        force_activation: bool = False,
    ) -> ApplyReport:
        """Make `raw` take effect now. `baseline` is what the page showed for the global settings:
        only the ones the user changed since are applied, so a page left open cannot undo another
        user's model change. The model is reloaded (or the server reconnected) only when a setting
        that needs it changed, or `force_activation`. A bad value applies nothing."""
        values, errors = self.validate(raw)
        if errors:
            return ApplyReport(errors=[f"Not applied: {e}" for e in errors])
        with self._lock:
            before_session = self.current(session)
            report = ApplyReport()
            self._apply_global(values, baseline, force_activation, report)
            self._apply_session(session, values)
            report.changes = diff(before_session, self.current(session))
            return report

    def _apply_global(
        self,
        values: dict[str, Any],
        baseline: Mapping[str, Any] | None,
        force: bool,
        report: ApplyReport,
    ) -> None:
        wanted = {
            name: values[name]
            for name in GLOBAL_KEYS
            if name in values
            and (baseline is None or name not in baseline or _differs(values[name], baseline[name], name))
            and values[name] != self.live.get(name)
        }
        if not wanted and not force:
            return
        if self.locked:
            report.errors.append(f"The model and binding are locked on this server: {self.locked}")
            return
        target = self.live.with_values(wanted)
        if force or _needs_activation(self.live, target):
            try:
                info = self.activate(target)
            except (ModelLoadError, DefaultModelMissing) as e:
                report.errors.append(f"{e} The previous model stays in use.")
                # what does not need the new model still applies (folders, default personality)
                target = self.live.with_values(
                    {
                        n: v
                        for n, v in wanted.items()
                        if not (SETTINGS_BY_NAME[n].loads_model or n.startswith("binding."))
                    }
                )
            else:
                report.reloaded = (
                    f"Now using {info.name} ({'server ' + info.source if info.binding == 'openai' else 'in-process'})."
                )
        self.live = target

    def _apply_session(self, session: ChatSession, values: dict[str, Any]) -> None:
        if "prompt_format" in values:
            session.prompt_format = values["prompt_format"]
        if "override_personality_params" in values:
            session.override = values["override_personality_params"]
        # With override off the sliders show the personality's values, not the user's: keep those.
        if session.override:
            params = _user_params(values)
            if params:
                session.user_params = GenerationParams.from_dict(params, session.user_params)

    def save(
        self,
        session: ChatSession,
        raw: Mapping[str, Any] | None = None,
        baseline: Mapping[str, Any] | None = None,
    ) -> ApplyReport:
        """Apply `raw` (when given), then write what is in force for this browser as the settings
        file: the values every new session and the next start begin with."""
        if self.locked:
            return ApplyReport(errors=[f"Settings are locked on this server and cannot be saved: {self.locked}"])
        report = self.apply(session, raw, baseline) if raw else ApplyReport()
        if not report.ok:
            report.errors.append("Nothing was saved.")
            return report
        with self._lock:
            current = self.current(session).flat()
            to_write: dict[str, Any] = {}
            for name, value in current.items():
                if name in self.overrides and value == self.overrides[name]:
                    to_write[name] = self.saved.get(name)  # a flag's value is for this run only
                else:
                    to_write[name] = value
            new_saved = AppSettings().with_values(to_write)
            try:
                new_saved.save(self.paths.settings_file)
            except OSError as e:
                report.errors.append(f"Cannot write {self.paths.settings_file}: {e.strerror or e}. Nothing was saved.")
                return report
            self.saved = new_saved
            # the user chose these values in the page: they now outrank this run's flags
            self.overrides = {n: v for n, v in self.overrides.items() if current[n] == v}
            self.live = self.live.with_values(
                {n: current[n] for n in current if SETTINGS_BY_NAME[n].scope == "session"}
            )
            report.saved_to = self.paths.settings_file
            log.info("settings saved to %s", self.paths.settings_file)
        return report

    # -- models and servers ------------------------------------------------------------------------
    def model_folders(self, settings: AppSettings | None = None) -> list[Path]:
        settings = settings or self.live
        return [self.paths.models, *(Path(f).expanduser() for f in settings.model.folders)]

    def model_file(self, settings: AppSettings) -> Path:
        """The GGUF file `settings` names (the embedded default when none)."""
        if not settings.model.path:
            return default_model_path()
        return resolve_model_path(settings.model.path, self.model_folders(settings))

    @staticmethod
    def load_options(settings: AppSettings) -> LoadOptions:
        m = settings.model
        return LoadOptions(
            n_ctx=m.n_ctx,
            n_threads=m.n_threads,
            n_batch=m.n_batch,
            n_gpu_layers=m.n_gpu_layers,
            state_cache_bytes=m.state_cache_mb * 2**20,
        )

    @staticmethod
    def server_options(settings: AppSettings) -> ServerOptions:
        b = settings.binding
        return ServerOptions(b.base_url, b.api_key, b.model, b.timeout_s, b.n_ctx)

    def activate(self, settings: AppSettings) -> ModelInfo:
        """Load the model, or connect to the server, that `settings` describe (through the
        service's queue: a running generation finishes first). On failure the old one stays."""
        if settings.binding.kind == "openai":
            options = self.server_options(settings)
            return self.service.connect(lambda: OpenAICompatBinding(options))
        return self.service.load(self.model_file(settings), self.load_options(settings))

    def start(self) -> list[str]:
        """Load what the settings say at app start. A model that fails to load falls back to the
        embedded default; problems come back as notices for the page."""
        notices: list[str] = []
        try:
            self.activate(self.live)
            return notices
        except (ModelLoadError, DefaultModelMissing) as e:
            notices.append(str(e))
        if self.live.binding.kind == "openai" or self.live.model.path:
            fallback = self.live.with_values({"binding.kind": "llama_cpp", "model.path": None})
            try:
                info = self.activate(fallback)
                notices[-1] += f" Using the embedded default model ({info.name}) instead."
            except (ModelLoadError, DefaultModelMissing) as e:
                notices.append(str(e))
        for notice in notices:
            log.error("model: %s", notice)
        return notices

    def adopt_model_file(self, path: Path) -> ModelInfo | None:
        """Switch the in-process model to `path` for this run, as if given with --model (a model
        the owner asked to download at start has arrived). Not a page action, so a lock does not
        apply; a server binding in force is left alone (None)."""
        with self._lock:
            if self.live.binding.kind != "llama_cpp":
                return None
            target = self.live.with_values({"model.path": str(path)})
            info = self.activate(target)
            self.live = target
            self.overrides["model.path"] = str(path)
            return info

    def unload(self) -> str:
        if self.locked:
            return f"⚠️ The model is locked on this server: {self.locked}"
        self.service.unload()
        return "Model unloaded: memory is free. Load a model (or Apply) to chat again."

    def test_connection(self, raw: Mapping[str, Any]) -> tuple[bool, str]:
        """Try the server settings in `raw` without switching to them. An empty API key means the
        key in force (the page never shows it). Refused when locked: it makes this server send
        requests wherever the page says."""
        if self.locked:
            return False, f"The binding is locked on this server: {self.locked}"
        names = ("binding.base_url", "binding.model", "binding.timeout_s", "binding.n_ctx")
        values, errors = self.validate({n: raw[n] for n in names if raw.get(n) is not None})
        if errors:
            return False, "; ".join(errors)
        key = page_api_key(raw.get("binding.api_key"))
        values["binding.api_key"] = self.live.binding.api_key if key is None else key
        settings = self.live.with_values(values)
        try:
            binding = OpenAICompatBinding(self.server_options(settings))
        except ModelLoadError as e:
            return False, str(e)
        try:
            info = binding.info
            counting = "exact (server tokenizer)" if info.exact_token_counts else "estimated (no tokenize endpoint)"
            template = "yes" if info.chat_template else "no"
            return True, (
                f"Connected: {info.metadata.get('server', 'server')} at {info.source}, model `{info.name}`, "
                f"context {info.n_ctx} tokens ({info.metadata.get('n_ctx_source', '')}), token counts {counting}, "
                f"chat template: {template}."
            )
        finally:
            binding.close()

    def model_choices(self) -> list[ModelChoice]:
        """The embedded default, then every GGUF in the models folders, then the configured path
        when it lies elsewhere (so the list always shows what is set)."""
        choices = [ModelChoice("", f"{DEFAULT_MODEL_LABEL}")]
        for file in find_models(self.model_folders()):
            choices.append(ModelChoice(str(file.path), file.label, file))
        configured = self.live.model.path
        if configured and all(c.value != configured for c in choices):
            resolved = str(resolve_model_path(configured, self.model_folders()))
            if all(c.value != resolved for c in choices):
                choices.append(ModelChoice(configured, f"{configured} (set in the settings)"))
        return choices

    def data_locations(self) -> list[tuple[str, Path]]:
        return [
            ("Settings file", self.paths.settings_file),
            ("Discussions", self.paths.discussions_db),
            ("Your personalities (user zoo)", self.paths.user_zoo),
            ("Generated files (outputs)", self.paths.outputs),
            ("Models folder", self.paths.models),
            *((f"Extra models folder {i}", Path(f)) for i, f in enumerate(self.live.model.folders, 1)),
            ("Stable Diffusion models", sd_models_dir()),
        ]


def page_api_key(value: Any) -> str | None:
    """The API key field of the page as a setting: the page never shows the key in force, so an
    empty field keeps it (None); "none" removes it; anything else is the new key."""
    key = str(value or "").strip()
    if not key:
        return None
    return "" if key.lower() == "none" else key


def _user_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling values among the page's settings, by GenerationParams field name."""
    return {n.removeprefix(_USER_PARAM_PREFIX): v for n, v in values.items() if n.startswith(_USER_PARAM_PREFIX)}


def _differs(value: Any, shown: Any, name: str) -> bool:
    """Whether a page value differs from what the page showed (compared in canonical form)."""
    try:
        shown = SETTINGS_BY_NAME[name].check(shown, from_text=isinstance(shown, str))
    except ValueError:
        return True
    return value != shown


def model_facts(info: ModelInfo | None, load_error: str | None, settings: AppSettings) -> list[tuple[str, str]]:
    """The loaded model's facts as (label, value) rows, for the Settings page."""
    if info is None:
        return [("Model", "none loaded" + (f" — {load_error}" if load_error else ""))]
    rows: list[tuple[str, str]] = []
    if info.binding == "openai":
        rows += [
            ("Binding", f"OpenAI-compatible server ({info.metadata.get('server', 'unknown kind')})"),
            ("Server", info.source),
            ("Model", info.name),
        ]
    else:
        rows += [("Binding", "in-process llama.cpp"), ("Model", info.name), ("File", info.path)]
    if info.size_bytes:
        rows.append(("Size", format_size(info.size_bytes)))
    quant = info.metadata.get("general.file_type")
    if quant is not None:
        rows.append(("Quantization", quantization_name(quant)))
    elif info.binding == "llama_cpp" and info.path:
        facts = cached_facts(Path(info.path))
        if not isinstance(facts, str):
            rows.append(("Quantization", facts.quantization))
    context = f"{info.n_ctx} tokens"
    if info.n_ctx_train and info.n_ctx_train != info.n_ctx:
        context += f" (trained on {info.n_ctx_train})"
    if info.binding == "openai":
        context += f" — from the {info.metadata.get('n_ctx_source', 'server')}"
    rows.append(("Context", context))
    rows.append(("Chat template", "yes" if info.chat_template else "no (personality prefixes are used)"))
    if not info.exact_token_counts:
        rows.append(("Token counts", "estimated on the safe side: this server has no tokenize endpoint"))
    if info.binding == "llama_cpp":
        threads = settings.model.n_threads
        rows.append(("Threads", str(threads) if threads else "every core"))
        rows.append(("GPU layers", str(settings.model.n_gpu_layers)))
    return rows


def last_generation_facts(session: ChatSession) -> dict[str, Any]:
    """The metadata of this session's last answer (params used, seed, tokens, model, binding)."""
    for message in reversed(session.messages):
        if message.role == "assistant" and message.kind == "normal":
            return dict(message.metadata)
    return {}
