"""The workflow's model functions (`generate`, `PromptShape`) over a GenerationService.

A processor gets these from the processor API (its `generate` has the same signature); tests and
tools build them here from the service directly. Generation goes through the service's fair
queue and honours `cancel` (Stop) within a token, like every other use of the model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationResult, GenerationService
from gradio_app.personalities.prompt import ModelPromptInfo, render_prefixes
from gradio_app.personalities.schema import PersonalityConfig
from gradio_app.web.prompts import DEFAULT_CONDITIONING, PromptShape, chat_template_renderer, render_plain


@dataclass
class ServiceModel:
    service: GenerationService
    params: GenerationParams = field(default_factory=GenerationParams)
    stops: tuple[str, ...] = ()
    cancel: threading.Event | None = None
    results: list[GenerationResult] = field(default_factory=list)  # one per generation, for metadata

    def stream(self, prompt: str, max_size: int, **overrides: Any) -> Iterator[str]:
        params = replace(self.params, **overrides) if overrides else self.params
        generation = self.service.stream(prompt, params, self.stops, cancel=self.cancel, max_tokens=max_size)
        try:
            for piece in generation:
                if piece:
                    yield piece
        finally:
            self.results.append(generation.result)

    def generate(
        self, prompt: str, max_size: int, *, stream_to: Callable[[str], None] | None = None, **overrides: Any
    ) -> str:
        pieces = []
        for piece in self.stream(prompt, max_size, **overrides):
            pieces.append(piece)
            if stream_to is not None:
                stream_to(piece)
        return "".join(pieces)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def shape(
        self,
        conditioning: str = DEFAULT_CONDITIONING,
        config: PersonalityConfig | None = None,
        prompt_format: str = "auto",
    ) -> PromptShape:
        """Prompts rendered the way the default workflow would: the model's chat template when it
        has one (unless the format says prefixes), else the personality's prefixes."""
        info = self.service.model_info()
        model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
        if model.chat_template and prompt_format != "prefixes":
            render = chat_template_renderer(model)
        elif config is not None:
            prefixed = config

            def render(system: str, user: str) -> str:
                return render_prefixes(prefixed, system.strip() + "\n", [], user.strip())

        else:
            render = render_plain
        return PromptShape(
            render=render,
            count_tokens=lambda text: len(self.service.tokenize(text)),
            context_tokens=info.n_ctx,
            conditioning=conditioning,
        )
