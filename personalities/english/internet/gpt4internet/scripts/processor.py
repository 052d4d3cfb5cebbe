"""GPT 4 Internet: search the web, read the top pages, answer with checked citations.

The workflow itself is `gradio_app.web.workflow.answer_with_web` (plain code, tested on its own);
this processor only connects it to the app: the processor is the workflow's report (its steps,
answer text and sources become chat events) and its `generate` is the workflow's model.
"""

from __future__ import annotations

from gradio_app.personalities.processor import Processor as BaseProcessor
from gradio_app.personalities.processor import ProcessorError, WorkflowCancelled
from gradio_app.web.prompts import PromptShape
from gradio_app.web.settings import InvalidWebSettings, WebSettings
from gradio_app.web.workflow import answer_with_web


class Processor(BaseProcessor):
    def run_workflow(self, prompt, previous_discussion_text, callback):
        try:
            settings = WebSettings.from_values(self.settings)
        except InvalidWebSettings as e:  # e.g. searxng chosen without its address: say which setting
            raise ProcessorError(f"GPT 4 Internet cannot search: {e}. Fix it in the personality's settings.") from e
        shape = PromptShape(
            render=lambda system, user: self.chat_prompt(user, system=system),
            count_tokens=self.count_tokens,
            context_tokens=self.context.service.model_info().n_ctx,
            conditioning=self.config.personality_conditioning,
        )
        answer = answer_with_web(
            prompt,
            previous_discussion_text,
            self.generate,
            self,
            settings,
            settings.backend(),
            shape=shape,
            cancelled=lambda: self.cancelled,
        )
        self.metadata.update(answer.to_metadata())
        if answer.cancelled:
            raise WorkflowCancelled("stopped")
        return None  # the answer was streamed with chunk()
