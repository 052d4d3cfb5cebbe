"""WorkflowRunner: runs one chat turn for a session and streams typed events back.

Default workflow: PromptBuilder -> GenerationService.stream. Scripted personalities (a
`scripts/processor.py`) plug in here through the processor API.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from gradio_app.generation.bindings.base import GenerationError
from gradio_app.generation.params import GenerationParams, merge
from gradio_app.generation.service import GenerationResult, GenerationService
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.prompt import BuiltPrompt, ModelPromptInfo, PromptBuilder, PromptTooLong
from gradio_app.personalities.schema import PersonalityError
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession, Message
from gradio_app.workflows.events import Done, ErrorOut, Event, TextChunk, Waiting

log = logging.getLogger(__name__)


class WorkflowRunner:
    def __init__(self, service: GenerationService, zoo: Zoo, defaults: GenerationParams | None = None) -> None:
        self.service = service
        self.zoo = zoo
        self.defaults = defaults or GenerationParams()

    def params_for(self, session: ChatSession, personality: Personality) -> GenerationParams:
        """The sampling parameters in force: the personality's unless the user overrides them."""
        return merge(personality.config.generation_params(self.defaults), session.user_params, session.override)

    def prompt_builder(self, session: ChatSession) -> PromptBuilder:
        info = self.service.model_info()
        model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
        return PromptBuilder(lambda text: self.service.count_tokens(text, add_bos=True), model, session.prompt_format)

    def run_turn(self, session: ChatSession, text: str) -> Iterator[Event]:
        """Answer `text` in `session`. The user's message is kept even when the turn fails."""
        session.cancel = threading.Event()
        session.messages.append(Message("user", text))
        try:
            personality = self.zoo.get(session.personality_id)
            params = self.params_for(session, personality)
            history = session.history()[:-1]
            built = self.prompt_builder(session).build(
                personality.config, history, text, params.n_predict, session.started_at
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
        except (PersonalityError, PromptTooLong, GenerationError) as e:
            session.messages.append(Message("assistant", str(e), kind="error"))
            yield ErrorOut(str(e))
            return
        message = self._record(session, personality, built, stream.result)
        yield Done(message.content, message.metadata)

    @staticmethod
    def _record(
        session: ChatSession,
        personality: Personality,
        built: BuiltPrompt,
        result: GenerationResult,
        stop_reason: str | None = None,
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
        message = Message("assistant", result.text.strip(), metadata=metadata)
        session.messages.append(message)
        return message
