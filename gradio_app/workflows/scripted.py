"""Scripted workflows: load a personality's `scripts/processor.py` and run it for one turn.

The processor runs in a worker thread; this generator relays its events as they come, so the UI
streams steps and text while the script works. What the user is promised:
- an untrusted personality's code never runs (they get a message saying how to trust it);
- a script written for another processor API version is refused before it is imported;
- Stop ends the turn within a second (generate() and step boundaries see the cancel event; the
  runner stops waiting after STOP_GRACE_S in any case);
- a script that raises becomes an error message; one that hangs hits its timeout; either way the
  steps so far are kept and the discussion stays usable.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from gradio_app.config import DataPaths
from gradio_app.generation.bindings.base import GenerationError
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationService, model_facts
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.processor import (
    API_VERSION,
    SUPPORTED_API_VERSIONS,
    Processor,
    ProcessorContext,
    ProcessorError,
    WorkflowCancelled,
)
from gradio_app.personalities.prompt import PromptBuilder, PromptTooLong, Turn
from gradio_app.personalities.schema import PersonalityConfig
from gradio_app.session import ChatSession, Message
from gradio_app.workflows import events as ev
from gradio_app.workflows.transcript import Transcript

log = logging.getLogger(__name__)

# Defaults; a personality may set processor_cfg.timeout_s / idle_timeout_s (seconds).
DEFAULT_TIMEOUT_S = 1800.0  # the longest a whole turn may take
DEFAULT_IDLE_TIMEOUT_S = 300.0  # the longest a script may go without reporting anything
STOP_GRACE_S = 0.75  # after Stop, how long the script gets to wind down before the turn ends anyway
_POLL_S = 0.05

_EVENT_TYPES = (
    ev.Waiting,
    ev.TextChunk,
    ev.TextReplace,
    ev.StepStart,
    ev.StepText,
    ev.StepProgress,
    ev.StepEnd,
    ev.StepTitle,
    ev.Notice,
    ev.ImageOut,
    ev.Sources,
)


class ProcessorLoadError(Exception):
    """The processor cannot be used (untrusted, wrong API version, broken script); for the user."""


# -- loading ------------------------------------------------------------------------------------
def untrusted_message(personality: Personality) -> str:
    return (
        f"“{personality.name}” runs its own script (scripts/processor.py), and it did not come with "
        f"this app, so it has not been run. Read the script first; if you trust its source, trust "
        f"the personality (an empty file named `.trusted` in {personality.folder} does it) and send "
        f"your message again."
    )


def declared_api_version(personality: Personality) -> int:
    """processor_cfg.api_version, checked against the versions this app provides."""
    raw = personality.config.processor_cfg.get("api_version")
    where = f"{personality.id} (config.yaml, processor_cfg.api_version)"
    supported = ", ".join(str(v) for v in sorted(SUPPORTED_API_VERSIONS))
    if raw is None:
        raise ProcessorLoadError(
            f"{where}: the personality does not say which processor API its script was written for. "
            f"This app provides version {API_VERSION}; add `api_version: {API_VERSION}` under "
            f"processor_cfg if the script uses it (see docs/personalities.md)."
        )
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ProcessorLoadError(f"{where}: expected a whole number, got {raw!r}.")
    if raw not in SUPPORTED_API_VERSIONS:
        newer = raw > API_VERSION
        advice = "Update the app to run it." if newer else "Ask its author for a version of the script for this API."
        raise ProcessorLoadError(
            f"{where}: the script was written for processor API version {raw}, but this app provides "
            f"version {supported}. {advice} Its code has not been run."
        )
    return raw


_modules: dict[str, tuple[tuple[int, int], type[Processor]]] = {}
_modules_lock = threading.Lock()


def load_processor_class(personality: Personality) -> type[Processor]:
    """Import scripts/processor.py under a name unique to this folder and version of the file,
    and return its `Processor` class. Reloaded when the file changes. Never for untrusted code."""
    if not personality.trusted:
        raise ProcessorLoadError(untrusted_message(personality))
    declared_api_version(personality)
    path = personality.processor_path
    if path is None:
        raise ProcessorLoadError(f"{personality.id}: no scripts/processor.py")
    path = path.resolve()
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    key = str(path)
    with _modules_lock:
        cached = _modules.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        module = _import_file(personality, path, stamp)
        cls = getattr(module, "Processor", None)
        if not (isinstance(cls, type) and issubclass(cls, Processor)) or cls is Processor:
            raise ProcessorLoadError(
                f"{path} must define `class Processor(...)` subclassing "
                f"gradio_app.personalities.processor.Processor (see docs/personalities.md)."
            )
        _modules[key] = (stamp, cls)
        return cls


def _import_file(personality: Personality, path: Path, stamp: tuple[int, int]) -> ModuleType:
    digest = hashlib.sha1(f"{path}:{stamp}".encode(), usedforsecurity=False).hexdigest()[:12]
    name = f"pwebui_processor_{re.sub(r'[^0-9a-zA-Z]', '_', personality.id)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ProcessorLoadError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look modules up by name while executing
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise ProcessorLoadError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from e
    except ImportError as e:
        sys.modules.pop(name, None)
        raise ProcessorLoadError(
            f"{path} cannot import {e.name or 'a module'} ({e}). Install the personality's requirements."
        ) from e
    except Exception as e:
        sys.modules.pop(name, None)
        log.exception("loading %s failed", path)
        raise ProcessorLoadError(f"{path} failed while loading: {type(e).__name__}: {e}") from e
    return module


# -- the turn -----------------------------------------------------------------------------------
def discussion_text(config: PersonalityConfig, history: list[Turn]) -> str:
    """The discussion before this message, in the personality's prefix form (no conditioning)."""
    parts: list[str] = []
    for turn in history:
        if turn.welcome and not config.include_welcome_message_in_discussion:
            continue
        if turn.role == "user":
            parts.append(config.user_message_prefix + turn.content + config.link_text + config.ai_message_prefix)
        else:
            parts.append(turn.content + config.link_text)
    return "".join(parts)


def _seconds(personality: Personality, key: str, default: float) -> float:
    value = personality.config.processor_cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return default
    return float(value)


def _interrupt(thread: threading.Thread, processor: Processor | None) -> None:
    """Best effort for a script stuck in Python code: raise WorkflowCancelled inside its thread,
    but never while it is inside the model queue (generate() stops on the cancel event anyway)."""
    if thread.ident is None or not thread.is_alive():
        return
    lock = processor.service_lock if processor is not None else threading.Lock()
    with lock:
        if processor is not None and processor.in_service:
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(WorkflowCancelled))


@dataclass
class _Outcome:
    answer: str | None = None
    error: str | None = None
    cancelled: bool = False


class ScriptedWorkflow:
    def __init__(
        self,
        service: GenerationService,
        paths: DataPaths | None,
        *,
        timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
    ) -> None:
        self.service = service
        self.paths = paths
        self.timeout_s = timeout_s
        self.idle_timeout_s = idle_timeout_s

    def context_for(
        self,
        personality: Personality,
        session: ChatSession,
        params: GenerationParams,
        builder: PromptBuilder,
        history: list[Turn],
        emit: Callable[[ev.Event], None],
    ) -> ProcessorContext:
        if self.paths is None:
            raise ProcessorLoadError("Scripted personalities need a data folder; none is configured.")
        settings, problems = personality.local_settings()
        return ProcessorContext(
            personality=personality,
            service=self.service,
            params=params,
            cancel=session.cancel,
            prompt_builder=builder,
            history=history,
            outputs_folder=self.paths.outputs,
            work_folder=self.paths.work.joinpath(*personality.id.split("/")),
            emit=emit,
            settings=settings,
            settings_problems=problems,
            started_at=session.started_at,
        )

    def hooks(
        self,
        personality: Personality,
        session: ChatSession,
        params: GenerationParams,
        builder: PromptBuilder,
        history: list[Turn],
    ) -> Processor:
        """A processor instance for the default workflow's process_model_input/output hooks."""
        cls = load_processor_class(personality)

        def no_events(event: ev.Event) -> None:
            pass

        return cls(self.context_for(personality, session, params, builder, history, no_events))

    def run_turn(
        self,
        session: ChatSession,
        personality: Personality,
        question: Message,
        params: GenerationParams,
        builder: PromptBuilder,
        history: list[Turn],
        *,
        save_interval_s: float = 1.0,
    ) -> Iterator[ev.Event]:
        """Run the personality's processor on `question` (already stored in the session). The
        answer is stored like any other: started before the script runs, its text saved while it
        streams, finished with the steps, images and sources in its metadata."""
        started = time.monotonic()
        events: queue.Queue[Any] = queue.Queue()
        closed = threading.Event()
        finished = object()

        def emit(event: ev.Event) -> None:
            if closed.is_set():
                raise WorkflowCancelled("the turn is over")
            events.put(event)

        def callback(item: Any) -> None:
            if isinstance(item, str):
                emit(ev.TextChunk(item))
            elif isinstance(item, _EVENT_TYPES):
                emit(item)
            else:
                raise TypeError(f"callback() takes an event of gradio_app.workflows.events or a str, got {item!r}")

        try:
            cls = load_processor_class(personality)
            context = self.context_for(personality, session, params, builder, history, emit)
        except ProcessorLoadError as e:
            session.add_error(question, str(e))  # nothing of the script ran: no answer, just why
            yield ev.ErrorOut(str(e))
            return

        transcript = Transcript()
        turn = _Turn(self, session, personality, builder, params, transcript, started)
        turn.answer = session.start_answer(question, personality.name)
        yield ev.Waiting(0)
        outcome = _Outcome()
        previous = discussion_text(personality.config, history)

        def work() -> None:
            try:
                processor = cls(context)
                turn.processor = processor
                for problem in context.settings_problems:
                    processor.warning(problem)
                answer = processor.run_workflow(question.content, previous, callback)
                if answer is not None and not isinstance(answer, str):
                    raise TypeError(f"run_workflow() must return a str or None, got {type(answer).__name__}")
                outcome.answer = answer
            except WorkflowCancelled:
                outcome.cancelled = True
            except ProcessorError as e:
                outcome.error = str(e)
            except (PromptTooLong, GenerationError) as e:
                outcome.error = str(e)
            except BaseException as e:
                log.exception("processor of %s failed", personality.id)
                outcome.error = f"The {personality.name} workflow failed: {type(e).__name__}: {e}"
            finally:
                events.put(finished)

        thread = threading.Thread(target=work, name=f"processor:{personality.id}", daemon=True)
        thread.start()
        timeout = self.timeout_s or _seconds(personality, "timeout_s", DEFAULT_TIMEOUT_S)
        idle = self.idle_timeout_s or _seconds(personality, "idle_timeout_s", DEFAULT_IDLE_TIMEOUT_S)
        last_activity = last_save = started
        stop_seen: float | None = None
        ended: str | None = None  # why we stopped waiting for the thread, if we did
        try:
            while True:
                try:
                    item = events.get(timeout=_POLL_S)
                except queue.Empty:
                    item = None
                now = time.monotonic()
                if item is finished:
                    break
                if item is not None:
                    last_activity = now
                    transcript.apply(item)
                    # the live message shows the steps so far (stored only when the turn ends)
                    turn.answer.content, turn.answer.metadata = transcript.answer, transcript.metadata()
                    if now - last_save >= save_interval_s and isinstance(item, (ev.TextChunk, ev.TextReplace)):
                        session.save_partial(turn.answer, transcript.answer)
                        last_save = now
                    yield item
                else:
                    yield ev.Idle()  # the UI may have held the last change back: it can send it now
                if session.cancel.is_set():
                    stop_seen = stop_seen or now
                    if now - stop_seen >= STOP_GRACE_S:
                        ended = "cancelled"
                        break
                elif now - last_activity > idle:
                    ended = f"no progress for {idle:g} s (processor_cfg.idle_timeout_s)"
                    break
                elif now - started > timeout:
                    ended = f"still running after {timeout:g} s (processor_cfg.timeout_s)"
                    break
        except GeneratorExit:
            # The consumer went away (browser tab closed): stop the script, keep what it produced.
            self._abandon(closed, session, thread, turn.processor)
            transcript.close_open_steps("cancelled")
            turn.finish("disconnected")
            raise
        if ended is not None:
            self._abandon(closed, session, thread, turn.processor)
            while True:  # what the script managed to say before we stopped listening
                try:
                    item = events.get_nowait()
                except queue.Empty:
                    break
                if item is not finished:
                    transcript.apply(item)
            if ended == "cancelled":
                outcome = _Outcome(cancelled=True)
            else:
                log.warning("processor of %s timed out: %s", personality.id, ended)
                outcome = _Outcome(error=f"The {personality.name} workflow was stopped: {ended}.")
        closed.set()

        if outcome.error is not None:
            transcript.close_open_steps("failed")
            yield turn.fail(outcome.error, "timeout" if ended else "error")
            return
        if outcome.cancelled:
            transcript.close_open_steps("cancelled")
            yield turn.finish("cancelled")
            return
        transcript.close_open_steps("done")
        if outcome.answer is not None:
            transcript.answer = outcome.answer
        yield turn.finish("done")

    @staticmethod
    def _abandon(
        closed: threading.Event, session: ChatSession, thread: threading.Thread, processor: Processor | None
    ) -> None:
        closed.set()
        session.cancel.set()  # generate() in the script stops within a token
        _interrupt(thread, processor)


class _Turn:
    """One scripted turn's answer message and how it is finished (stored through the session)."""

    def __init__(
        self,
        workflow: ScriptedWorkflow,
        session: ChatSession,
        personality: Personality,
        builder: PromptBuilder,
        params: GenerationParams,
        transcript: Transcript,
        started: float,
    ) -> None:
        self.workflow, self.session, self.personality = workflow, session, personality
        self.builder, self.params, self.transcript, self.started = builder, params, transcript, started
        self.processor: Processor | None = None
        self.answer: Message  # set right after the processor is loaded

    def metadata(self, stop_reason: str) -> dict[str, Any]:
        processor, personality = self.processor, self.personality
        results = [r.result for r in processor.generations] if processor else []
        gen_time = sum(max(0.0, r.duration_s - r.time_to_first_token_s) for r in results)
        completion = sum(r.completion_tokens for r in results)
        info = self.workflow.service.info
        metadata: dict[str, Any] = {
            "personality": personality.id,
            "personality_version": personality.config.version,
            "prompt_format": self.builder.effective_format,
            "workflow": "scripted",
            "processor_api_version": personality.config.processor_cfg.get("api_version"),
            "params": self.params.to_dict(),
            "seed": self.params.seed,
            "seeds": [r.seed for r in results],
            **model_facts(info),
            "generations": len(results),
            "prompt_tokens": sum(r.prompt_tokens for r in results),
            "completion_tokens": completion,
            "tokens_per_second": round(completion / gen_time, 2) if gen_time > 0 and completion > 1 else 0.0,
            "duration_s": round(time.monotonic() - self.started, 3),
            "stop_reason": stop_reason,
            **self.transcript.metadata(),
        }
        if processor is not None and processor.metadata:
            metadata["workflow_data"] = _json_safe(processor.metadata)
        return metadata

    def finish(self, stop_reason: str) -> ev.Done:
        metadata = self.metadata(stop_reason)
        self.session.finish_answer(self.answer, self.transcript.answer.strip(), metadata)
        return ev.Done(self.answer.content, metadata)

    def fail(self, error: str, stop_reason: str) -> ev.ErrorOut:
        """The answer becomes the error message; it keeps the steps (and any partial text)."""
        metadata = self.metadata(stop_reason)
        if self.transcript.answer.strip():
            metadata["partial_answer"] = self.transcript.answer.strip()
        self.session.finish_answer(self.answer, error, metadata, kind="error")
        return ev.ErrorOut(error, metadata)


def _json_safe(value: Any) -> Any:
    """Processor metadata must survive json.dumps; anything else becomes its repr."""
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, dict):
            return {str(k): _json_safe(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [_json_safe(v) for v in value]
        return repr(value)
