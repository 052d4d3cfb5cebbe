"""WorkflowRunner: runs one chat turn for a session and streams typed events back.

Default workflow: PromptBuilder -> GenerationService.stream. Scripted personalities (a
`scripts/processor.py` with a custom workflow) are dispatched to `workflows.scripted`; a processor
without one may still rewrite the input/output of the default workflow (process_model_input/output).

Every kind of turn (a new message, Regenerate, Continue, edit-and-resend) ends in `_answer`, the
one code path that builds the prompt, streams, and persists: the user's message is stored before
anything is generated, the answer is saved while it streams (at most once per
`save_interval_s`, flagged incomplete) and finished with its metadata at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from gradio_app.config import DataPaths
from gradio_app.discussions.store import StoreError
from gradio_app.generation.ahead import run_ahead
from gradio_app.generation.bindings.base import GenerationError
from gradio_app.generation.params import GenerationParams, merge
from gradio_app.generation.service import GenerationResult, GenerationService
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.processor import Processor, ProcessorError
from gradio_app.personalities.prompt import BuiltPrompt, ModelPromptInfo, PromptBuilder, PromptTooLong, Turn
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession, Message, SessionError
from gradio_app.workflows.events import Done, ErrorOut, Event, TextChunk, Waiting
from gradio_app.workflows.scripted import ProcessorLoadError, ScriptedWorkflow

log = logging.getLogger(__name__)

# A streamed answer is written to the store at most this often (a crash loses at most this much).
PARTIAL_SAVE_INTERVAL_S = 1.0
_TURN_ERRORS = (PersonalityError, PromptTooLong, GenerationError, StoreError, ProcessorLoadError, ProcessorError)


class WorkflowRunner:
    def __init__(
        self,
        service: GenerationService,
        zoo: Zoo,
        defaults: GenerationParams | None = None,
        save_interval_s: float = PARTIAL_SAVE_INTERVAL_S,
        paths: DataPaths | None = None,
        scripted: ScriptedWorkflow | None = None,
    ) -> None:
        self.service = service
        self.zoo = zoo
        self.defaults = defaults or GenerationParams()
        self.save_interval_s = save_interval_s
        self.scripted = scripted or ScriptedWorkflow(service, paths)

    def params_for(self, session: ChatSession, personality: Personality) -> GenerationParams:
        """The sampling parameters in force: the personality's unless the user overrides them."""
        return merge(personality.config.generation_params(self.defaults), session.user_params, session.override)

    def prompt_builder(self, session: ChatSession) -> PromptBuilder:
        info = self.service.model_info()
        model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
        return PromptBuilder(lambda text: self.service.count_tokens(text, add_bos=True), model, session.prompt_format)

    # -- the kinds of turn ----------------------------------------------------------------------
    def run_turn(self, session: ChatSession, text: str) -> Iterator[Event]:
        """Answer `text` in `session`. The user's message is kept even when the turn fails."""
        session.cancel = threading.Event()
        try:
            question = session.add_user_message(text)
        except StoreError as e:
            yield ErrorOut(f"Your message could not be saved: {e}")
            return
        yield from self._answer(session, question)

    def regenerate(self, session: ChatSession, message_id: str | None = None) -> Iterator[Event]:
        """A new version of an answer (the last one by default), beside the old ones."""
        session.cancel = threading.Event()
        try:
            target = session.find(message_id) if message_id else session.last_answer()
            if target is None or target.role != "assistant" or target.kind == "welcome":
                raise SessionError("There is no answer to regenerate.")
            question = session.find(target.parent_id)
            if question.role != "user":
                raise SessionError("Only an answer to a message can be regenerated.")
        except StoreError as e:
            yield ErrorOut(str(e))
            return
        yield from self._answer(session, question)

    def edit_and_resend(self, session: ChatSession, message_id: str, text: str) -> Iterator[Event]:
        """The user rewrote one of their messages: a new branch from there, answered anew."""
        session.cancel = threading.Event()
        try:
            original = session.find(message_id)
            if original.role != "user":
                raise SessionError("Only your own messages are re-sent; an AI message is edited in place.")
            question = session.add_user_message(text, parent_id=original.parent_id)
        except StoreError as e:
            yield ErrorOut(str(e))
            return
        yield from self._answer(session, question)

    def continue_answer(self, session: ChatSession) -> Iterator[Event]:
        """Extend the last answer (cut short by n_predict or Stop) where it ended."""
        session.cancel = threading.Event()
        try:
            answer = session.messages[-1] if session.messages else None
            if answer is None or answer.role != "assistant" or answer.kind != "normal":
                raise SessionError("There is no answer to continue: the last message must be an AI answer.")
            question = session.find(answer.parent_id)
        except StoreError as e:
            yield ErrorOut(str(e))
            return
        yield from self._answer(session, question, continuing=answer)

    # -- the one path every turn takes ----------------------------------------------------------
    def _answer(self, session: ChatSession, question: Message, continuing: Message | None = None) -> Iterator[Event]:
        answer: Message | None = None
        prefix = continuing.content if continuing is not None else ""
        previous = dict(continuing.metadata) if continuing is not None else {}
        text = ""
        try:
            personality = self.zoo.get(session.personality_id)
            params = self.params_for(session, personality)
            history = session.history_before(question)
            if personality.has_custom_workflow:
                if continuing is not None:  # nothing changes in the discussion: just say why
                    yield ErrorOut(
                        f"{personality.name} answers with its own workflow, which cannot be continued; "
                        "use Regenerate for a new answer."
                    )
                    return
                builder = self.prompt_builder(session)
                yield from self.scripted.run_turn(
                    session, personality, question, params, builder, history, save_interval_s=self.save_interval_s
                )
                return
            hooks = self._hooks(session, personality, params, history)
            built = self.prompt_builder(session).build(
                personality.config,
                history,
                _hook(hooks, "process_model_input", question.content),
                params.n_predict,
                session.started_at,
            )
            prompt, max_tokens = built.text, built.max_new_tokens
            if continuing is not None:
                prompt, max_tokens = self._continuation_prompt(built, prefix, params)
            stream = self.service.stream(
                prompt,
                params,
                built.stops,
                cancel=session.cancel,
                max_tokens=max_tokens,
                cache_key=session.discussion_id,  # its history stays evaluated while others talk
            )
            if continuing is not None:
                answer = continuing
                session.resume_answer(answer)
            else:
                answer = session.start_answer(question, personality.name)
            yield Waiting(0)  # the message is saved; the answer is on its way (shown at once)
            last_save = time.monotonic()
            # Generated in a worker thread: the model keeps going while the UI renders an update.
            pieces = run_ahead(iter(stream))
            try:
                for piece in pieces:
                    if not piece:
                        yield Waiting(stream.queue_position)
                        continue
                    text += piece
                    answer.content = prefix + text
                    if time.monotonic() - last_save >= self.save_interval_s:
                        session.save_partial(answer, prefix + text)
                        last_save = time.monotonic()
                    yield TextChunk(piece)
            except GeneratorExit:
                # The consumer went away (browser tab closed): stop the model now, keep the partial.
                pieces.close()
                self._finish(session, answer, personality, built, stream.result, prefix, previous, "disconnected")
                raise
        except _TURN_ERRORS as e:
            yield from self._failed(session, question, answer, continuing, prefix + text, previous, e)
            return
        try:
            message = self._finish(session, answer, personality, built, stream.result, prefix, previous, hooks=hooks)
        except _TURN_ERRORS as e:  # the output hook failed: what the model wrote is kept
            yield from self._failed(session, question, answer, continuing, prefix + text, previous, e)
            return
        yield Done(message.content, message.metadata)

    def _hooks(
        self, session: ChatSession, personality: Personality, params: GenerationParams, history: list[Turn]
    ) -> Processor | None:
        """The processor, when config.yaml asks for its input/output hooks (2023 zoo keys)."""
        cfg = personality.config.processor_cfg
        wanted = cfg.get("process_model_input") or cfg.get("process_model_output")
        if personality.processor_path is None or not wanted:
            return None
        return self.scripted.hooks(personality, session, params, self.prompt_builder(session), history)

    def _continuation_prompt(self, built: BuiltPrompt, prefix: str, params: GenerationParams) -> tuple[str, int]:
        """The prompt ends with the answer so far, so the model writes what comes next."""
        prompt = built.text + prefix
        n_ctx = self.service.model_info().n_ctx
        room = n_ctx - len(self.service.tokenize(prompt))
        if room < 1:
            raise PromptTooLong(
                f"The answer already fills the model's context of {n_ctx} tokens: it cannot be continued."
            )
        return prompt, max(1, min(params.n_predict, room))

    def _failed(
        self,
        session: ChatSession,
        question: Message,
        answer: Message | None,
        continuing: Message | None,
        written: str,
        previous: dict[str, Any],
        error: Exception,
    ) -> Iterator[Event]:
        """Errors become a message in the discussion; whatever was already written is kept."""
        reason = str(error)
        try:
            if continuing is not None and answer is not None:
                session.finish_answer(answer, written.strip(), {**previous, "continue_error": reason})
                session.add_error(answer, reason)
            elif answer is not None and written.strip():
                session.finish_answer(answer, written.strip(), {"stop_reason": "error", "error": reason})
            elif answer is not None:
                session.finish_answer(answer, reason, {"stop_reason": "error"}, kind="error")
            else:
                session.add_error(question, reason)
        except StoreError as e:  # the store itself failed: say so, the turn is over either way
            log.error("could not record a failed turn: %s", e)
            reason = f"{reason} (and the error could not be saved: {e})"
        yield ErrorOut(reason)

    @staticmethod
    def _finish(
        session: ChatSession,
        answer: Message,
        personality: Personality,
        built: BuiltPrompt,
        result: GenerationResult,
        prefix: str,
        previous: dict[str, Any],
        stop_reason: str | None = None,
        hooks: Processor | None = None,
    ) -> Message:
        facts: dict[str, Any] = {
            "personality": personality.id,
            "personality_version": personality.config.version,
            "prompt_format": built.format,
            "dropped_messages": built.dropped_messages,
            **result.to_dict(),
        }
        del facts["text"]
        if stop_reason:
            facts["stop_reason"] = stop_reason
        if prefix:  # Continue: the answer's own facts stay; the continuation adds to them
            metadata = {
                **previous,
                "stop_reason": facts["stop_reason"],
                "completion_tokens": previous.get("completion_tokens", 0) + facts["completion_tokens"],
                "duration_s": previous.get("duration_s", 0.0) + facts["duration_s"],
                "continuations": [*previous.get("continuations", []), facts],
            }
        else:
            metadata = facts
        content = (prefix + result.text).strip()
        if stop_reason is None and not prefix:
            content = _hook(hooks, "process_model_output", content)
        session.finish_answer(answer, content, metadata)
        return answer


def _hook(processor: Processor | None, name: str, text: str) -> str:
    """Apply one of the processor's hooks if config.yaml enables it; its failure is the user's to see."""
    if processor is None or not processor.config.processor_cfg.get(name):
        return text
    try:
        result = getattr(processor, name)(text)
    except Exception as e:
        log.exception("%s of %s failed", name, processor.personality.id)
        raise ProcessorError(f"{processor.personality.name}: {name} failed: {type(e).__name__}: {e}") from e
    if not isinstance(result, str):
        raise ProcessorError(f"{processor.personality.name}: {name} must return text, got {type(result).__name__}")
    return result
