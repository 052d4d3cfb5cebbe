"""WorkflowRunner: runs one chat turn for a session and streams typed events back.

Default workflow: PromptBuilder -> GenerationService.stream. Scripted personalities (a
`scripts/processor.py` with a custom workflow) are dispatched to `workflows.scripted`; a processor
without one may still rewrite the input/output of the default workflow (process_model_input/output).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from gradio_app.config import DataPaths
from gradio_app.generation.bindings.base import GenerationError
from gradio_app.generation.params import GenerationParams, merge
from gradio_app.generation.service import GenerationResult, GenerationService
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.processor import Processor, ProcessorError
from gradio_app.personalities.prompt import BuiltPrompt, ModelPromptInfo, PromptBuilder, PromptTooLong, Turn
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession, Message
from gradio_app.workflows.events import Done, ErrorOut, Event, TextChunk, Waiting
from gradio_app.workflows.scripted import ProcessorLoadError, ScriptedWorkflow

log = logging.getLogger(__name__)


class WorkflowRunner:
    def __init__(
        self,
        service: GenerationService,
        zoo: Zoo,
        defaults: GenerationParams | None = None,
        paths: DataPaths | None = None,
        scripted: ScriptedWorkflow | None = None,
    ) -> None:
        self.service = service
        self.zoo = zoo
        self.defaults = defaults or GenerationParams()
        self.scripted = scripted or ScriptedWorkflow(service, paths)

    def params_for(self, session: ChatSession, personality: Personality) -> GenerationParams:
        """The sampling parameters in force: the personality's unless the user overrides them."""
        return merge(personality.config.generation_params(self.defaults), session.user_params, session.override)

    def prompt_builder(self, session: ChatSession) -> PromptBuilder:
        info = self.service.model_info()
        model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
        return PromptBuilder(lambda text: len(self.service.tokenize(text)), model, session.prompt_format)

    def run_turn(self, session: ChatSession, text: str) -> Iterator[Event]:
        """Answer `text` in `session`. The user's message is kept even when the turn fails."""
        session.cancel = threading.Event()
        session.messages.append(Message("user", text))
        try:
            personality = self.zoo.get(session.personality_id)
            params = self.params_for(session, personality)
            history = session.history()[:-1]
            if personality.has_custom_workflow:
                builder = self.prompt_builder(session)
                yield from self.scripted.run_turn(session, personality, text, params, builder, history)
                return
            hooks = self._hooks(session, personality, params, history)
            prompt_text = _hook(hooks, "process_model_input", text)
            built = self.prompt_builder(session).build(
                personality.config, history, prompt_text, params.n_predict, session.started_at
            )
            stream = self.service.stream(
                built.text, params, built.stops, cancel=session.cancel, max_tokens=built.max_new_tokens
            )
            pieces = iter(stream)
            try:
                for piece in pieces:
                    yield TextChunk(piece) if piece else Waiting(stream.queue_position)
            except GeneratorExit:
                # The consumer went away (browser tab closed): stop the model now, keep the partial.
                pieces.close()
                self._record(session, personality, built, stream.result, "disconnected")
                raise
            message = self._record(session, personality, built, stream.result, hooks=hooks)
        except (PersonalityError, PromptTooLong, GenerationError, ProcessorLoadError, ProcessorError) as e:
            session.messages.append(Message("assistant", str(e), kind="error"))
            yield ErrorOut(str(e))
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

    @staticmethod
    def _record(
        session: ChatSession,
        personality: Personality,
        built: BuiltPrompt,
        result: GenerationResult,
        stop_reason: str | None = None,
        hooks: Processor | None = None,
    ) -> Message:
        metadata = {
            "personality": personality.id,
            "personality_version": personality.config.version,
            "prompt_format": built.format,
            "dropped_messages": built.dropped_messages,
            **result.to_dict(),
        }
        del metadata["text"]
        if stop_reason:
            metadata["stop_reason"] = stop_reason
        content = result.text.strip()
        if stop_reason is None:
            content = _hook(hooks, "process_model_output", content)
        message = Message("assistant", content, metadata=metadata)
        session.messages.append(message)
        return message


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
