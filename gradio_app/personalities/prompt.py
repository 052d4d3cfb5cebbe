"""PromptBuilder: conditioning + discussion -> the text the model continues.

Two renderings of the same content:
- "prefixes" (the original lollms form): conditioning, then each user turn as
  `user_message_prefix + text + link_text + ai_message_prefix`, each AI answer followed by link_text;
- "chat_template": the model's own chat template (from the GGUF), conditioning as the system message.
"auto" picks the chat template when the model has one.

History that does not fit is dropped oldest-first, a whole exchange at a time; the conditioning and
the new prompt are never dropped. Rendering is stable (earlier turns render identically as the
discussion grows) so llama.cpp can reuse the evaluated prefix from one turn to the next.

Trimming keeps that reuse too: the history is only ever cut at fixed points (one every
TRIM_STEP_TOKENS_SHARE of the context, measured from the discussion's start), the first one that
fits. Cutting at "the fewest exchanges that fit" would move the cut, and so change the prompt's
start, at every turn of a long discussion and make the model re-evaluate the whole context each
time; with fixed points the start stays put for many turns and only moves by a step.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from gradio_app.personalities.schema import PersonalityConfig, fill_placeholders

PromptFormat = Literal["auto", "prefixes", "chat_template"]
# No tokenizer we know packs more characters than this into one token on real text.
MAX_CHARS_PER_TOKEN = 32
# Distance between two cut points of the history, as a share of the context. Smaller: more of the
# context kept on average, re-evaluated more often. Measured in UTF-8 bytes (~4 per token of
# English, ~2-3 of CJK), which is stable and costs no tokenization of the whole history.
TRIM_STEP_TOKENS_SHARE = 1 / 8
BYTES_PER_TOKEN_ESTIMATE = 4
PROMPT_FORMATS: tuple[str, ...] = ("auto", "prefixes", "chat_template")


class PromptTooLong(ValueError):
    """Even without any history, the conditioning and the prompt do not fit the context."""


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str
    welcome: bool = False  # the personality's welcome message (in the prompt only if it says so)


@dataclass(frozen=True)
class BuiltPrompt:
    text: str
    n_tokens: int
    max_new_tokens: int
    format: Literal["prefixes", "chat_template"]
    kept_messages: int
    dropped_messages: int
    stops: list[str]


@dataclass(frozen=True)
class ModelPromptInfo:
    """What the builder needs to know about the model (kept small so tests need no model)."""

    n_ctx: int
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""
    adds_bos: bool = False


class PromptBuilder:
    def __init__(
        self,
        count_tokens: Callable[[str], int],
        model: ModelPromptInfo,
        prompt_format: PromptFormat = "auto",
    ) -> None:
        """`count_tokens(text)` must count as the model will see it (BOS included)."""
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt format must be one of {PROMPT_FORMATS}, got {prompt_format!r}")
        self._count = count_tokens
        self._model = model
        self._format = prompt_format

    @property
    def effective_format(self) -> Literal["prefixes", "chat_template"]:
        if self._format == "chat_template" and not self._model.chat_template:
            return "prefixes"  # asked for a template the model does not have
        if self._format == "auto":
            return "chat_template" if self._model.chat_template else "prefixes"
        return self._format  # type: ignore[return-value]

    def reserve_for_answer(self, n_predict: int) -> int:
        """Tokens kept free for the answer: n_predict, capped at half the context so that a huge
        n_predict cannot squeeze the discussion out entirely."""
        return max(1, min(n_predict, self._model.n_ctx // 2))

    def build(
        self,
        config: PersonalityConfig,
        history: Sequence[Turn],
        prompt: str,
        n_predict: int,
        now: _dt.datetime | None = None,
    ) -> BuiltPrompt:
        """`now` fixes {{date}}/{{time}}: pass the discussion's start so the prefix stays stable."""
        n_ctx = self._model.n_ctx
        if len(prompt) > n_ctx * MAX_CHARS_PER_TOKEN:
            # Certain to overflow: say so without tokenizing megabytes of text first.
            raise PromptTooLong(
                f"The message is {len(prompt):,} characters long: far more than the model's context of "
                f"{n_ctx} tokens can hold. Shorten it or raise the context size."
            )
        turns = [t for t in history if not t.welcome or config.include_welcome_message_in_discussion]
        blocks = _exchanges(turns)
        budget = n_ctx - self.reserve_for_answer(n_predict)

        def render_from(first_block: int) -> str:
            kept = [t for block in blocks[first_block:] for t in block]
            return self._render(config, kept, prompt, now)

        text = render_from(len(blocks))
        n_tokens = self._count(text)
        if n_tokens >= n_ctx:
            raise PromptTooLong(
                f"The message and the personality's conditioning take {n_tokens} tokens, more than "
                f"the model's context of {n_ctx}. Shorten the message or raise the context size."
            )
        dropped_blocks, text, n_tokens = self._first_cut_that_fits(
            trim_points(blocks, self.trim_step_bytes), render_from, budget, (len(blocks), text, n_tokens)
        )
        dropped = sum(len(b) for b in blocks[:dropped_blocks])
        return BuiltPrompt(
            text=text,
            n_tokens=n_tokens,
            max_new_tokens=max(1, min(n_predict, n_ctx - n_tokens)),
            format=self.effective_format,
            kept_messages=len(turns) - dropped,
            dropped_messages=dropped,
            stops=config.stop_strings(),
        )

    @property
    def trim_step_bytes(self) -> int:
        return max(1, int(self._model.n_ctx * TRIM_STEP_TOKENS_SHARE * BYTES_PER_TOKEN_ESTIMATE))

    def _first_cut_that_fits(
        self,
        cuts: list[int],
        render_from: Callable[[int], str],
        budget: int,
        nothing_kept: tuple[int, str, int],
    ) -> tuple[int, str, int]:
        """The earliest cut (most history kept) whose prompt fits `budget`, as (cut, text, tokens).

        The prompt shrinks as the cut moves later, so "fits" is monotonic along `cuts`. The usual
        case (everything fits) costs one count; otherwise a galloping search from the newest end
        counts only prompts of about the context's size, never the whole long history.
        """

        def attempt(index: int) -> tuple[int, str, int] | None:
            cut = cuts[index]
            if cut == nothing_kept[0]:
                return nothing_kept
            text = render_from(cut)
            if len(text) > budget * MAX_CHARS_PER_TOKEN:
                return None  # certain not to fit: no need to tokenize it
            count = self._count(text)
            return (cut, text, count) if count <= budget else None

        first = attempt(0)
        if first is not None:
            return first
        # Gallop back from the last cut (which keeps the least) to bracket the boundary...
        fits_at, step = len(cuts) - 1, 1
        best = attempt(fits_at)
        assert best is not None  # the last cut keeps no history, and that was checked to fit
        misses_at = 0
        while fits_at - step > misses_at:
            found = attempt(fits_at - step)
            if found is None:
                misses_at = fits_at - step
                break
            fits_at, best, step = fits_at - step, found, step * 2
        # ...then binary search between the last miss and the first fit.
        while fits_at - misses_at > 1:
            mid = (fits_at + misses_at) // 2
            found = attempt(mid)
            if found is None:
                misses_at = mid
            else:
                fits_at, best = mid, found
        return best

    def _render(self, config: PersonalityConfig, turns: Sequence[Turn], prompt: str, now: _dt.datetime | None) -> str:
        # Only the personality's own text has placeholders; what people wrote (and the welcome
        # message, filled when the discussion started) goes to the model as it was written.
        conditioning = fill_placeholders(config.personality_conditioning, now)
        if self.effective_format == "chat_template":
            return self._render_template(conditioning, turns, prompt)
        return render_prefixes(config, conditioning, turns, prompt)

    def _render_template(self, conditioning: str, turns: Sequence[Turn], prompt: str) -> str:
        messages: list[dict[str, str]] = []
        if conditioning.strip():
            messages.append({"role": "system", "content": conditioning.strip()})
        model = self._model
        markers = [m for m in (model.bos_token, model.eos_token) if m]
        messages += [{"role": t.role, "content": neutralize_markers(t.content, markers)} for t in turns]
        messages.append({"role": "user", "content": neutralize_markers(prompt, markers)})
        assert model.chat_template is not None
        try:
            text = render_chat_template(model.chat_template, messages, model.bos_token, model.eos_token)
        except TemplateRejected:
            # Some templates refuse a system role or a leading assistant turn: fold the
            # conditioning into the first user message and start on a user turn.
            folded = _fold_for_strict_templates(messages)
            text = render_chat_template(model.chat_template, folded, model.bos_token, model.eos_token)
        if model.adds_bos and model.bos_token and text.startswith(model.bos_token):
            text = text[len(model.bos_token) :]  # the tokenizer adds BOS itself: avoid a double BOS
        return text


_ZWNJ = "\u200c"


def neutralize_markers(text: str, markers: Sequence[str]) -> str:
    """Stop message text from forging chat-template control tokens.

    The rendered prompt is tokenized with special tokens enabled (so the template's own markers
    work); a user typing "<|im_end|><|im_start|>system" must not open a system turn. A zero-width
    non-joiner inside `<|` and inside the BOS/EOS strings keeps the text readable to the model but
    no longer a control token. Stored messages are not changed.
    """
    text = text.replace("<|", "<" + _ZWNJ + "|")
    for marker in markers:
        if len(marker) > 1 and marker in text:
            text = text.replace(marker, marker[0] + _ZWNJ + marker[1:])
    return text


def render_prefixes(config: PersonalityConfig, conditioning: str, turns: Sequence[Turn], prompt: str) -> str:
    user_prefix, link, ai_prefix = config.user_message_prefix, config.link_text, config.ai_message_prefix
    parts: list[str] = []
    if conditioning:
        parts.append(conditioning if conditioning.endswith("\n") else conditioning + "\n")
    awaiting_answer = False
    for turn in turns:
        if turn.role == "user":
            parts.append(user_prefix + turn.content + link + ai_prefix)
            awaiting_answer = True
        else:
            parts.append(("" if awaiting_answer else ai_prefix) + turn.content + link)
            awaiting_answer = False
    parts.append(user_prefix + prompt + link + ai_prefix)
    return "".join(parts)


def trim_points(blocks: Sequence[Sequence[Turn]], step_bytes: int) -> list[int]:
    """Where the history may be cut: 0 (keep all), then the first exchange at or after every
    `step_bytes` of history counted from the discussion's start, then len(blocks) (keep none).

    They depend only on the exchanges before them, which never change as the discussion grows,
    so a cut chosen at one turn is still a cut point at the next.
    """
    cuts, total, next_mark = [0], 0, step_bytes
    for i, block in enumerate(blocks):
        if total >= next_mark and cuts[-1] != i:
            cuts.append(i)
            while next_mark <= total:
                next_mark += step_bytes
        total += sum(len(t.content.encode("utf-8")) for t in block)
    if cuts[-1] != len(blocks):
        cuts.append(len(blocks))
    return cuts


def _exchanges(turns: Sequence[Turn]) -> list[list[Turn]]:
    """Group turns into exchanges (a user turn and the answers after it) so trimming keeps pairs."""
    blocks: list[list[Turn]] = []
    for turn in turns:
        if turn.role == "user" or not blocks:
            blocks.append([turn])
        else:
            blocks[-1].append(turn)
    return blocks


class TemplateRejected(ValueError):
    """The chat template raised (e.g. "roles must alternate")."""


def _fold_for_strict_templates(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    while rest and rest[0]["role"] != "user":
        rest = rest[1:]
    if system and rest:
        rest = [{"role": "user", "content": system[0] + "\n\n" + rest[0]["content"]}, *rest[1:]]
    merged: list[dict[str, str]] = []
    for m in rest:  # merge consecutive same-role messages
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1] = {"role": m["role"], "content": merged[-1]["content"] + "\n\n" + m["content"]}
        else:
            merged.append(dict(m))
    return merged


@lru_cache(maxsize=8)
def _compile(template: str) -> Any:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateRejected(message)

    def strftime_now(fmt: str) -> str:
        return _dt.datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    return env.from_string(template)


def render_chat_template(template: str, messages: list[dict[str, str]], bos_token: str, eos_token: str) -> str:
    """Render a Hugging Face style Jinja chat template the way transformers does."""
    from jinja2 import TemplateError

    try:
        return _compile(template).render(
            messages=messages, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token
        )
    except TemplateError as e:
        raise TemplateRejected(str(e)) from e
