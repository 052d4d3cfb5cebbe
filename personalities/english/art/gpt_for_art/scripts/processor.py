"""GPT for Art: imagine a Stable Diffusion prompt with the chat model, then paint it.

1. Imagining (a step, streamed): the chat model writes the picture's description from the request
   and the discussion so far: once the discussion holds a description (our earlier answers, read
   without their markdown images and facts line), it is asked to rewrite that description with
   the requested change, so "now make it a day view" edits the last picture. With
   `imagine: false` the user's text is the prompt.
2. Painting (a step with per-denoising-step progress): gradio_app.art paints with the model found
   in the SD models folder; the pipeline is loaded once per app and kept.
3. Each image is watermarked and saved under the outputs folder with an unguessable name; the
   answer shows the prompt used, and the images travel in the message metadata (`images`).
   Images under 256x256 are saved enlarged (the watermark needs the room): the facts line and
   the image facts give both the painted and the saved size.
"""

from __future__ import annotations

import re

from gradio_app.art.models import SdModelMissing, resolve_model
from gradio_app.art.settings import ArtSettings, InvalidArtSettings
from gradio_app.config import sd_models_dir
from gradio_app.personalities.processor import Processor as BaseProcessor
from gradio_app.personalities.processor import ProcessorError, WorkflowCancelled
from gradio_app.personalities.prompt import Turn

PROMPT_LABEL = "**Prompt:** "
FACTS_PREFIX = "_Seed "
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:stable diffusion\s+)?(?:prompt|description|image)\s*(?:\*\*)?\s*:\s*", re.I)


def strip_markdown_images(text: str) -> str:
    return _MARKDOWN_IMAGE.sub("", text).strip()


def description_of(answer: str) -> str:
    """The picture description inside one of our answers (or the whole text of any other)."""
    lines = [ln for ln in strip_markdown_images(answer).splitlines() if not ln.startswith(FACTS_PREFIX)]
    text = "\n".join(lines).strip()
    return text.removeprefix(PROMPT_LABEL).strip()


def imagining_request(request: str, history: list[Turn]) -> str:
    """What the chat model is asked: describe the request, or, when the discussion already holds a
    description, rewrite that description with the requested change (small models follow an
    explicit rewrite far better than a bare "now make it a day view" after a long history)."""
    previous = next((t.content for t in reversed(history_for_imagining(history)) if t.role == "assistant"), "")
    if not previous:
        return f"Describe this picture for a text-to-image AI: {request}"
    return (
        f"Here is the description of the current picture:\n{previous}\n\n"
        f"The user asks for this change: {request}\n\n"
        "Rewrite the whole description with the change applied. Write only the new description."
    )


def history_for_imagining(history: list[Turn]) -> list[Turn]:
    """The discussion as the imagining model sees it: no images, answers as their descriptions."""
    out: list[Turn] = []
    for turn in history:
        if turn.welcome:
            continue
        content = description_of(turn.content) if turn.role == "assistant" else strip_markdown_images(turn.content)
        if content:
            out.append(Turn(turn.role, content))
    return out


def clean_sd_prompt(text: str) -> str:
    """One paragraph: labels, quotes, markdown and line breaks removed."""
    text = _LABEL.sub("", text.strip())
    text = strip_markdown_images(text).replace("**", "").replace("`", "")
    text = " ".join(text.split())
    return text.strip(" \"'")


def size_text(facts: dict) -> str:
    """The painted size, and the saved size when the watermark had to enlarge the image."""
    painted = f"{facts['width']}×{facts['height']}"
    saved = f"{facts.get('saved_width', facts['width'])}×{facts.get('saved_height', facts['height'])}"
    return painted if saved == painted else f"{painted}, saved as {saved} for the watermark"


def facts_line(facts: dict) -> str:
    return (
        f"{FACTS_PREFIX}{facts['seed']} · {facts['sampler']} · {facts['steps']} steps · "
        f"{size_text(facts)} · model {facts['model']}_"
    )


class Processor(BaseProcessor):
    def run_workflow(self, prompt: str, previous_discussion_text: str, callback) -> str:
        try:
            art = ArtSettings.from_dict(self.settings)
        except InvalidArtSettings as e:
            raise ProcessorError(f"{self.personality.name}: {e}") from e
        folder = sd_models_dir()
        try:
            model = resolve_model(art.model_name, folder, allow_ckpt=art.allow_ckpt)
        except SdModelMissing as e:
            raise ProcessorError(str(e)) from e

        request = strip_markdown_images(prompt) or prompt.strip()
        sd_prompt = self.imagine(request, art) if art.imagine else request
        self.metadata["sd_prompt"] = sd_prompt
        self.full(f"{PROMPT_LABEL}{sd_prompt}")
        paths = self.paint(model, sd_prompt, art)
        facts = paths[0][1]
        lines = [f"{PROMPT_LABEL}{sd_prompt}", "", facts_line(facts)]
        if len(paths) > 1:
            lines[-1] += f" ({len(paths)} images, seeds {', '.join(str(f['seed']) for _, f in paths)})"
        return "\n".join(lines)

    def imagine(self, request: str, art: ArtSettings) -> str:
        with self.step("🎨 Imagining the picture") as step:
            ask = imagining_request(request, self.history)
            chat = self.chat_prompt(ask, max_size=art.max_generation_prompt_size)
            text = clean_sd_prompt(self.generate(chat, art.max_generation_prompt_size))
            if not text:
                step.status = "failed"
                step.write("\n\n_The model wrote no description; your words are used as the prompt._")
                text = request
            step.title = "🎨 Imagined the picture"
        return text

    def paint(self, model, sd_prompt: str, art: ArtSettings) -> list[tuple[object, dict]]:
        from gradio_app.art.outputs import save_image
        from gradio_app.art.painter import PaintingCancelled, PaintingFailed, shared_painter

        painter = shared_painter()
        count = f"{art.num_images} images" if art.num_images > 1 else "the picture"
        with self.step(f"🖌️ Painting {count} with {model.name}") as step:
            if painter.loads == 0:
                step.write("Loading the Stable Diffusion model (only for the first picture)…\n\n")

            def on_step(index: int, done: int, total: int) -> None:
                note = f"steps · image {index + 1} of {art.num_images}" if art.num_images > 1 else "steps"
                self.step_progress(done, total, note)

            try:
                painted = painter.paint(model, sd_prompt, art, on_step=on_step, cancel=self.cancel_event)
            except PaintingCancelled as e:
                raise WorkflowCancelled("stopped while painting") from e
            except (PaintingFailed, SdModelMissing) as e:
                raise ProcessorError(str(e)) from e
            folder = self.outputs_folder / "art"
            folder.mkdir(parents=True, exist_ok=True)
            saved = []
            for item in painted:
                facts = {
                    "prompt": sd_prompt,
                    "negative_prompt": art.negative_prompt,
                    "seed": item.seed,
                    "sampler": art.sampler,
                    "steps": art.steps,
                    "guidance_scale": art.guidance_scale,
                    "width": art.width,
                    "height": art.height,
                    "model": model.name,
                }
                image = save_image(item.image, folder, facts)
                self.add_image(image.path, sd_prompt, **image.facts)
                saved.append((image.path, image.facts))
            step.title = f"🖌️ Painted {count} with {model.name}"
            step.write(f"{len(saved)} image(s), seed {', '.join(str(f['seed']) for _, f in saved)}.")
        return saved
