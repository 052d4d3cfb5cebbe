"""Settings tab: the model's facts, the prompt format, and the sampling override."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from gradio_app.context import AppContext
from gradio_app.generation.params import PARAM_RANGES, GenerationParams, InvalidParams
from gradio_app.personalities.prompt import PROMPT_FORMATS
from gradio_app.personalities.schema import PersonalityError
from gradio_app.session import ChatSession
from gradio_app.ui.render import model_view

PARAM_LABELS = {
    "temperature": "Temperature (higher: more creative)",
    "top_k": "Top-k (0 = off)",
    "top_p": "Top-p",
    "repeat_penalty": "Repeat penalty",
    "repeat_last_n": "Repeat penalty window (tokens)",
    "n_predict": "Max new tokens (n_predict)",
    "seed": "Seed (-1 = random)",
}
PARAM_NAMES = list(PARAM_LABELS)
_STEPS = {"temperature": 0.05, "top_p": 0.01, "repeat_penalty": 0.01}


@dataclass
class SettingsTab:
    model_info: gr.Markdown
    prompt_format: gr.Radio
    override: gr.Checkbox
    params: list[gr.components.Component]
    status: gr.Markdown

    @property
    def outputs(self) -> list[gr.components.Component]:
        """The components `view()` updates, in order."""
        return [self.model_info, self.prompt_format, self.override, *self.params]


def shown_params(ctx: AppContext, session: ChatSession, override: bool) -> GenerationParams:
    """With override off the sliders show the personality's own values (read-only)."""
    if override:
        return session.user_params
    try:
        return ctx.runner.params_for(session, ctx.zoo.get(session.personality_id))
    except PersonalityError:
        return ctx.runner.defaults


def param_updates(params: GenerationParams, interactive: bool) -> list[Any]:
    return [gr.update(value=getattr(params, name), interactive=interactive) for name in PARAM_NAMES]


def view(ctx: AppContext, session: ChatSession) -> list[Any]:
    info = model_view(ctx.service.info, ctx.service.load_error, ctx.settings.n_threads)
    return [
        info,
        session.prompt_format,
        session.override,
        *param_updates(shown_params(ctx, session, session.override), session.override),
    ]


def build(ctx: AppContext, state: gr.State) -> SettingsTab:
    with gr.Accordion("Model", open=True):
        model_info = gr.Markdown()
    with gr.Accordion("Prompt format", open=True):
        prompt_format = gr.Radio(
            list(PROMPT_FORMATS),
            label="How the discussion is written for the model",
            info="auto = the model's chat template when it has one, else the personality's prefixes",
        )
    with gr.Accordion("Model configuration", open=True):
        gr.Markdown("Each personality brings its own sampling parameters. Check **Override** to use yours instead.")
        override = gr.Checkbox(label="Override personality parameters")
        params: list[gr.components.Component] = []
        for name in PARAM_NAMES:
            low, high, _ = PARAM_RANGES[name]
            if name == "seed":
                params.append(gr.Number(label=PARAM_LABELS[name], precision=0, minimum=low, maximum=high))
            else:
                step = _STEPS.get(name, 1)
                params.append(gr.Slider(low, high, step=step, label=PARAM_LABELS[name], interactive=False))
    apply = gr.Button("Apply changes", variant="primary")
    status = gr.Markdown("Applied settings last until the app restarts (unsaved changes are lost on reboot).")
    tab = SettingsTab(model_info, prompt_format, override, params, status)

    def on_override(checked: bool, session: ChatSession) -> list[Any]:
        return param_updates(shown_params(ctx, session, checked), checked)

    def on_apply(fmt: str, checked: bool, *values_and_state: Any) -> list[Any]:
        *values, session = values_and_state
        try:
            user = GenerationParams.from_dict(dict(zip(PARAM_NAMES, values, strict=True))) if checked else None
        except InvalidParams as e:
            return [*view(ctx, session), f"⚠️ Not applied: {e}"]
        session.prompt_format = fmt if fmt in PROMPT_FORMATS else session.prompt_format
        session.override = checked
        if user is not None:
            session.user_params = user
        return [*view(ctx, session), "✅ Applied. Unsaved settings are lost when the app restarts."]

    override.change(on_override, [override, state], params, api_visibility="private")
    apply.click(on_apply, [prompt_format, override, *params, state], [*tab.outputs, status], api_name="apply_settings")
    return tab
