"""The processor API: the base class a scripted personality's `scripts/processor.py` subclasses.

A personality whose folder holds `scripts/processor.py` (with `processor_cfg.custom_workflow`
not false) replaces the default prompt-in/text-out workflow with its own:

    from gradio_app.personalities.processor import Processor as BaseProcessor

    class Processor(BaseProcessor):
        def run_workflow(self, prompt, previous_discussion_text, callback):
            with self.step("Thinking"):
                idea = self.generate(self.chat_prompt(prompt), 64)
            self.full(idea)

The API is versioned: config.yaml declares `processor_cfg.api_version`, and the app refuses (with
a clear message, before importing the script) a version it does not provide. Version 1 is the
API below; a later version will add, never change, and this module will keep serving version 1.
The full guide is docs/personalities.md.

Every helper reports through the same callback the runner passes to `run_workflow`; the runner
turns those typed events into chat updates and the stored message metadata.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationResult, GenerationService
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.prompt import PromptBuilder, PromptTooLong, Turn
from gradio_app.personalities.schema import PersonalityConfig
from gradio_app.workflows.events import (
    NOTICE_LEVELS,
    Event,
    ImageOut,
    Notice,
    Sources,
    StepEnd,
    StepProgress,
    StepStart,
    StepText,
    StepTitle,
    TextChunk,
    TextReplace,
    Waiting,
)

log = logging.getLogger(__name__)

API_VERSION = 1
"""The processor API this app provides (the newest)."""
SUPPORTED_API_VERSIONS = frozenset({1})
"""Every version a personality may declare in `processor_cfg.api_version`."""

_PARAM_NAMES = tuple(f.name for f in fields(GenerationParams))
_MAX_SEED = 2**31 - 1

Callback = Callable[[Any], None]
"""What run_workflow's `callback` accepts: an event from `workflows.events`, or a str (answer text)."""


class WorkflowCancelled(BaseException):
    """The user pressed Stop (or the workflow timed out). Raised by the helpers at the next
    generate() token or step boundary. A BaseException, like KeyboardInterrupt, so that a
    processor's `except Exception` does not swallow it; let it propagate."""


class ProcessorError(Exception):
    """Raise it to end the workflow with this message shown to the user as is (no traceback):
    e.g. "No Stable Diffusion model found in ...". Any other exception is shown as a failure."""


@dataclass
class ProcessorContext:
    """What the app hands a processor for one turn (built by the workflow runner)."""

    personality: Personality
    service: GenerationService
    params: GenerationParams  # the turn's sampling parameters (personality's or the user's override)
    cancel: threading.Event  # set by Stop (and by the runner on timeout)
    prompt_builder: PromptBuilder
    history: list[Turn]  # the discussion before this message
    outputs_folder: Path  # images and other results the chat shows (served to the browser)
    work_folder: Path  # private scratch space of this personality (not served)
    emit: Callable[[Event], None]
    settings: dict[str, Any] = field(default_factory=dict)
    settings_problems: list[str] = field(default_factory=list)
    started_at: datetime = field(default_factory=datetime.now)


@dataclass(frozen=True)
class GenerationRecord:
    """One generate() call: what was asked and what came back (kept in memory for the turn)."""

    prompt: str
    text: str
    result: GenerationResult


class StepHandle:
    """The open step of a `with self.step(...)` block."""

    def __init__(self, processor: Processor, step_id: str) -> None:
        self._processor = processor
        self.id = step_id
        self.title: str | None = None  # set it to rename the step when it ends
        self.status = "done"  # or "failed" to end it failed without raising

    def write(self, text: str) -> None:
        """Add text to the step's body."""
        self._processor.step_text(text, self.id)

    def progress(self, done: int, total: int, note: str = "") -> None:
        self._processor.step_progress(done, total, note, self.id)


class Processor:
    """Base class of a personality's processor (API version 1).

    Subclass it as `class Processor(...)` in `scripts/processor.py` and implement `run_workflow`.
    A new instance is made for every turn: keep what must outlive a turn (a loaded model) at
    module level. The helpers are meant to be called from the thread `run_workflow` runs in.
    """

    api_version: ClassVar[int] = API_VERSION

    def __init__(self, context: ProcessorContext) -> None:
        self.context = context
        self.personality: Personality = context.personality
        self.config: PersonalityConfig = context.personality.config
        self.settings: dict[str, Any] = context.settings
        self.settings_problems: list[str] = context.settings_problems
        self.metadata: dict[str, Any] = {}  # JSON facts stored with the answer: metadata["workflow_data"]
        self.generations: list[GenerationRecord] = []
        self._open: list[str] = []  # open steps, innermost last
        self._step_started: dict[str, float] = {}
        self._steps = 0
        self._generate_calls = 0
        self._sources = 0
        # generate() marks when it is inside the model queue, so the runner never interrupts a
        # stuck processor there (the queue must always be released).
        self.service_lock = threading.Lock()
        self.in_service = False

    # -- the entry point and hooks ------------------------------------------------------------
    def run_workflow(self, prompt: str, previous_discussion_text: str, callback: Callback) -> str | None:
        """Answer `prompt`. `previous_discussion_text` is the discussion before it, in the
        personality's prefix form. Return the final answer, or None to keep the text sent with
        chunk()/full(). `callback` takes the events of `workflows.events` (or a str: answer text);
        the helpers below call it for you."""
        raise NotImplementedError("a Processor must implement run_workflow(prompt, previous_discussion_text, callback)")

    def process_model_input(self, text: str) -> str:
        """With `processor_cfg.process_model_input: true` (and no custom workflow): rewrite the
        user's message before the default workflow builds the prompt."""
        return text

    def process_model_output(self, text: str) -> str:
        """With `processor_cfg.process_model_output: true`: rewrite the model's answer."""
        return text

    # -- facts ---------------------------------------------------------------------------------
    @property
    def params(self) -> GenerationParams:
        return self.context.params

    @property
    def history(self) -> list[Turn]:
        return list(self.context.history)

    @property
    def outputs_folder(self) -> Path:
        """Where results shown in the chat go (images for add_image). Created on first use."""
        self.context.outputs_folder.mkdir(parents=True, exist_ok=True)
        return self.context.outputs_folder

    @property
    def work_folder(self) -> Path:
        """This personality's private scratch folder inside the data folder. Created on first use."""
        self.context.work_folder.mkdir(parents=True, exist_ok=True)
        return self.context.work_folder

    @property
    def cancelled(self) -> bool:
        return self.context.cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        """For long work outside generate() (painting...): check it often, stop when it is set."""
        return self.context.cancel

    def check_cancel(self) -> None:
        """Raise WorkflowCancelled if the user pressed Stop."""
        if self.context.cancel.is_set():
            raise WorkflowCancelled("stopped")

    # -- the answer ------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.context.emit(event)

    def chunk(self, text: str) -> None:
        """Append to the answer (streamed to the user as it comes)."""
        if text:
            self.emit(TextChunk(text))

    def full(self, text: str) -> None:
        """Replace the whole answer so far."""
        self.emit(TextReplace(text))

    # -- notices ---------------------------------------------------------------------------------
    def info(self, text: str) -> None:
        self._notice("info", text)

    def warning(self, text: str) -> None:
        self._notice("warning", text)

    def exception(self, error: BaseException | str) -> None:
        """Show a handled error to the user (the workflow goes on; raise to end it)."""
        if isinstance(error, BaseException):
            log.warning("processor of %s reported: %r", self.personality.id, error, exc_info=error)
            error = f"{type(error).__name__}: {error}"
        self._notice("error", error)

    def _notice(self, level: str, text: str) -> None:
        assert level in NOTICE_LEVELS
        self.emit(Notice(level, str(text)))

    # -- steps -----------------------------------------------------------------------------------
    def step_start(self, title: str, parent_id: str | None = None, *, top_level: bool = False) -> str:
        """Open a named step and return its id. It nests inside the innermost open step unless
        `parent_id` names another one or `top_level` is set. Checks Stop first."""
        self.check_cancel()
        self._steps += 1
        step_id = f"step-{self._steps}"
        if parent_id is None and not top_level and self._open:
            parent_id = self._open[-1]
        self._open.append(step_id)
        self._step_started[step_id] = time.monotonic()
        self.emit(StepStart(step_id, str(title), parent_id))
        return step_id

    def step_end(
        self, step_id: str | None = None, status: str = "done", *, title: str | None = None, detail: str = ""
    ) -> None:
        """Close a step (the innermost open one by default) with its status and duration."""
        if status not in ("done", "failed", "cancelled"):
            raise ValueError(f"step status must be done, failed or cancelled, got {status!r}")
        step_id = step_id or (self._open[-1] if self._open else None)
        if step_id is None or step_id not in self._step_started:
            raise ValueError(f"no open step {step_id!r}")
        if step_id in self._open:
            self._open.remove(step_id)
        duration = time.monotonic() - self._step_started[step_id]
        self.emit(StepEnd(step_id, status, round(duration, 3), detail, title))

    @contextmanager
    def step(self, title: str) -> Iterator[StepHandle]:
        """`with self.step("Searching") as s:` a step that ends done, or failed/cancelled when the
        block raises (the exception propagates)."""
        step_id = self.step_start(title)
        handle = StepHandle(self, step_id)
        try:
            yield handle
        except WorkflowCancelled:
            self._end_quietly(step_id, "cancelled")
            raise
        except BaseException as e:
            self._end_quietly(step_id, "failed", detail=f"{type(e).__name__}: {e}")
            raise
        self.step_end(step_id, handle.status, title=handle.title)

    def _end_quietly(self, step_id: str, status: str, detail: str = "") -> None:
        with suppress(WorkflowCancelled):  # the turn is already closed: the runner marks the step
            self.step_end(step_id, status, detail=detail)

    def step_title(self, step_id: str, title: str) -> None:
        """Rename a step, open or already ended (e.g. mark the candidate that won)."""
        if step_id not in self._step_started:
            raise ValueError(f"no step {step_id!r}")
        self.emit(StepTitle(step_id, str(title)))

    def step_text(self, text: str, step_id: str | None = None) -> None:
        """Add text to a step's body (the innermost open step by default)."""
        step_id = step_id or (self._open[-1] if self._open else None)
        if step_id is None:
            raise ValueError("step_text() needs an open step")
        if text:
            self.emit(StepText(step_id, text))

    def step_progress(self, done: int, total: int, note: str = "", step_id: str | None = None) -> None:
        """Report progress of a long step (shown next to its title). Checks Stop."""
        self.check_cancel()
        step_id = step_id or (self._open[-1] if self._open else None)
        if step_id is None:
            raise ValueError("step_progress() needs an open step")
        self.emit(StepProgress(step_id, int(done), int(total), note))

    # -- results ---------------------------------------------------------------------------------
    def add_image(self, path: str | Path, caption: str = "", **facts: Any) -> Path:
        """Show an image file with the answer. It must be inside `outputs_folder` (only that
        folder is served to the browser); `facts` (prompt, seed...) must be JSON values."""
        resolved = Path(path).resolve()
        outputs = self.context.outputs_folder.resolve()
        if not resolved.is_relative_to(outputs):
            raise ValueError(f"add_image: {path} is not inside the outputs folder {outputs}; save images there")
        if not resolved.is_file():
            raise ValueError(f"add_image: {path} is not a file")
        try:
            json.dumps(facts)
        except (TypeError, ValueError) as e:
            raise ValueError(f"add_image: facts must be JSON values ({e})") from e
        self.emit(ImageOut(str(resolved), str(caption), dict(facts)))
        return resolved

    def add_sources(self, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Attach sources to the answer: each {title, url, passage?, index?}. Missing indexes
        continue the numbering ([1], [2]...), so the answer can cite them."""
        clean: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, Mapping):
                raise ValueError(f"add_sources: each source is a mapping with title and url, got {item!r}")
            self._sources += 1
            index = item.get("index", self._sources)
            if isinstance(index, bool) or not isinstance(index, int):
                raise ValueError(f"add_sources: index must be a whole number, got {index!r}")
            source = {
                **{k: v for k, v in item.items() if k not in ("index", "title", "url", "passage")},
                "index": index,
                "title": str(item.get("title") or item.get("url") or f"Source {index}"),
                "url": str(item.get("url") or ""),
                "passage": str(item.get("passage") or ""),
            }
            try:
                json.dumps(source)
            except (TypeError, ValueError) as e:
                raise ValueError(f"add_sources: sources must hold JSON values ({e})") from e
            clean.append(source)
        if clean:
            self.emit(Sources(clean))
        return clean

    # -- generation ------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return self.context.service.count_tokens(text)

    def chat_prompt(
        self,
        text: str,
        *,
        system: str | None = None,
        history: Sequence[Turn] = (),
        max_size: int | None = None,
    ) -> str:
        """`text` as a user message, rendered the way the chat is (the model's chat template, or
        the personality's prefixes), after `system` (default: the personality's conditioning) and
        `history`. Old history is trimmed to leave `max_size` tokens for the answer."""
        config = self.config if system is None else replace(self.config, personality_conditioning=system)
        reserve = max_size or self.params.n_predict
        built = self.context.prompt_builder.build(config, list(history), text, reserve, self.context.started_at)
        return built.text

    def generate(
        self,
        prompt: str,
        max_size: int | None = None,
        *,
        stops: Sequence[str] | None = None,
        stream_to: Callable[[str], None] | None = None,
        **param_overrides: Any,
    ) -> str:
        """Generate up to `max_size` tokens after `prompt` (a complete prompt: see chat_prompt)
        through the app's model queue, and return the text.

        The turn's sampling parameters apply, with `param_overrides` (temperature=0.1, top_k=...)
        on top. With a fixed seed the n-th call of a turn uses seed + n, so candidates differ and
        the whole workflow reproduces. `stops` defaults to the personality's anti-prompts. The
        text streams into the innermost open step, or to `stream_to` (e.g. self.chunk). Raises
        WorkflowCancelled when the user presses Stop (within one token).
        """
        unknown = sorted(set(param_overrides) - set(_PARAM_NAMES))
        if unknown:
            raise TypeError(f"generate() got unknown parameters {unknown}; sampling parameters are {_PARAM_NAMES}")
        params = replace(self.params, **param_overrides)
        if "seed" not in param_overrides and params.seed >= 0:
            params = replace(params, seed=(params.seed + self._generate_calls) % _MAX_SEED)
        self._generate_calls += 1
        service = self.context.service
        n_ctx = service.model_info().n_ctx
        n_prompt = service.count_tokens(prompt)
        if n_prompt >= n_ctx:
            raise PromptTooLong(f"The workflow's prompt takes {n_prompt} tokens, more than the context of {n_ctx}.")
        max_tokens = max(1, min(max_size or params.n_predict, n_ctx - n_prompt))
        stream = service.stream(
            prompt,
            params,
            self.config.stop_strings() if stops is None else list(stops),
            cancel=self.context.cancel,
            max_tokens=max_tokens,
        )
        sink = stream_to
        if sink is None and self._open:
            step_id = self._open[-1]

            def sink(text: str) -> None:
                self.emit(StepText(step_id, text))

        with self.service_lock:
            self.check_cancel()
            self.in_service = True
        pieces = iter(stream)
        try:
            for piece in pieces:
                if piece:
                    if sink is not None:
                        sink(piece)
                else:
                    self.emit(Waiting(stream.queue_position))
        finally:
            pieces.close()  # releases the model now, also when the sink raised
            with self.service_lock:
                self.in_service = False
        self.generations.append(GenerationRecord(prompt, stream.result.text, stream.result))
        if self.context.cancel.is_set():
            raise WorkflowCancelled("stopped")
        return stream.result.text
