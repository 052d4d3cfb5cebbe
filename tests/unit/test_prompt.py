"""PromptBuilder on both formats, with the real SmolLM2 tokenizer and chat template."""

import datetime as dt

import pytest

from gradio_app.personalities.prompt import (
    ModelPromptInfo,
    PromptBuilder,
    PromptTooLong,
    Turn,
    render_chat_template,
)
from gradio_app.personalities.schema import PersonalityConfig

NOW = dt.datetime(2025, 1, 2, 3, 4, 5)


@pytest.fixture
def config():
    return PersonalityConfig(
        name="Tester",
        personality_conditioning="You are Tester. Today is {{date}}.\n",
        welcome_message="Welcome!",
        user_message_prefix="### User:\n",
        link_text="\n",
        ai_message_prefix="### Assistant:\n",
    )


def builder_for(service, fmt="auto", n_ctx=None):
    info = service.model_info()
    model = ModelPromptInfo(n_ctx or info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
    return PromptBuilder(lambda text: len(service.tokenize(text)), model, fmt)


HISTORY = [
    Turn("assistant", "Welcome!", welcome=True),
    Turn("user", "Hi"),
    Turn("assistant", "Hello there."),
]


def test_prefix_format_is_the_lollms_layout(service, config):
    built = builder_for(service, "prefixes").build(config, HISTORY, "How are you?", 128, NOW)
    assert built.format == "prefixes"
    assert built.text == (
        "You are Tester. Today is 2025-01-02.\n"
        "### User:\nHi\n### Assistant:\nHello there.\n"
        "### User:\nHow are you?\n### Assistant:\n"
    )
    assert built.n_tokens == len(service.tokenize(built.text))
    assert built.stops == ["### User:", "### Assistant:"]


def test_welcome_message_only_in_prompt_when_the_personality_says_so(service, config):
    builder = builder_for(service, "prefixes")
    assert "Welcome!" not in builder.build(config, HISTORY, "x", 64, NOW).text
    config.include_welcome_message_in_discussion = True
    text = builder.build(config, HISTORY, "x", 64, NOW).text
    assert text.startswith("You are Tester. Today is 2025-01-02.\n### Assistant:\nWelcome!\n### User:\nHi\n")


def test_placeholders_are_filled_in_the_conditioning_only(service, config):
    """What people wrote reaches the model as written, in the new message and in the history alike:
    a literal {{date}} must not change meaning when its message moves into the history."""
    builder = builder_for(service, "prefixes")
    history = [Turn("user", "Explain {{date}} in templates"), Turn("assistant", "It is a placeholder.")]
    built = builder.build(config, history, "And {{time}}?", 128, NOW)
    assert built.text.startswith("You are Tester. Today is 2025-01-02.\n")
    assert "Explain {{date}} in templates" in built.text
    assert "And {{time}}?" in built.text


def test_chat_template_format_uses_the_models_template(service, config):
    built = builder_for(service, "auto").build(config, HISTORY, "How are you?", 128, NOW)
    assert built.format == "chat_template"
    assert built.text == (
        "<|im_start|>system\nYou are Tester. Today is 2025-01-02.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello there.<|im_end|>\n"
        "<|im_start|>user\nHow are you?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    # control markers become single special tokens, not text
    assert service.tokenize("<|im_start|>")[0] == service.tokenize(built.text)[0]


def test_rendering_is_stable_as_the_discussion_grows(service, config):
    """Turn N's prompt + answer is a prefix of turn N+1's prompt: llama.cpp reuses the KV cache."""
    for fmt in ("prefixes", "chat_template"):
        builder = builder_for(service, fmt)
        first = builder.build(config, HISTORY[:1], "Hi", 64, NOW).text
        second = builder.build(config, HISTORY, "How are you?", 64, NOW).text
        assert second.startswith(first), fmt


def test_history_is_trimmed_oldest_first_and_conditioning_kept(service, config):
    history = []
    for i in range(60):
        history += [Turn("user", f"Question number {i} about topic {i}?"), Turn("assistant", f"Answer {i}. " * 8)]
    builder = builder_for(service, "prefixes", n_ctx=512)
    built = builder.build(config, history, "Final question?", 128, NOW)
    assert built.n_tokens <= 512 - 128
    assert built.dropped_messages > 0 and built.dropped_messages % 2 == 0  # whole exchanges
    assert built.text.startswith("You are Tester.")
    assert built.text.endswith("### User:\nFinal question?\n### Assistant:\n")
    assert "Question number 59" in built.text  # newest kept
    assert "Question number 0 " not in built.text  # oldest dropped
    # one more exchange would not have fitted
    assert built.max_new_tokens == 128


def test_prompt_that_cannot_fit_raises_clearly(service, config):
    builder = builder_for(service, "prefixes", n_ctx=256)
    with pytest.raises(PromptTooLong, match="context of 256"):
        builder.build(config, [], "word " * 400, 64, NOW)


def test_prompt_that_fits_only_without_answer_room_shrinks_max_new_tokens(service, config):
    builder = builder_for(service, "prefixes", n_ctx=256)
    built = builder.build(config, [], "word " * 180, 200, NOW)
    assert built.n_tokens + built.max_new_tokens <= 256
    assert built.max_new_tokens < 200


def test_strict_templates_get_conditioning_folded_into_first_user_turn():
    template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    config = PersonalityConfig(name="x", personality_conditioning="Be brief.")
    builder = PromptBuilder(len, ModelPromptInfo(n_ctx=4096, chat_template=template), "chat_template")
    text = builder.build(config, [Turn("assistant", "Welcome", welcome=True)], "Hi", 10, NOW).text
    assert text == "[user]Be brief.\n\nHi[assistant]"


def test_chat_template_renders_like_transformers():
    template = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}"
    out = render_chat_template(template, [{"role": "user", "content": "a"}], "<s>", "</s>")
    assert out == "<s><user>a</s>"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="prompt format"):
        PromptBuilder(len, ModelPromptInfo(n_ctx=10), "xml")  # type: ignore[arg-type]
