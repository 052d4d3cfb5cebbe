"""Tree of Thoughts' judge (`Processor._judge`) down its two recovery paths, on the real default
model: a verdict that names no thought is asked again strictly, and a strict answer that names
none either leaves the choice to the deterministic fallback rule.

The model is not imitated. The unreadable outputs come from real settings of the personality:
- `max_judgement_tokens: 1`: SmolLM2's tokenizer writes " 2" as two tokens (" ", "2"), so the
  one-token verdict after the prefill "The best thought is Thought" is a bare space. (The settings
  form allows 8 or more; the processor's settings are given directly here, as the runner does.)
- anti-prompts that are the digits 0-9 (config.yaml `anti_prompts`): generation stops at the first
  digit, so neither the verdict nor the strict answer can contain a number.
"""

import shutil
import threading
from dataclasses import replace

import pytest

from gradio_app.config import BUILTIN_ZOO
from gradio_app.personalities.personality import Personality
from gradio_app.personalities.processor import ProcessorContext
from gradio_app.personalities.prompt import ModelPromptInfo, PromptBuilder
from gradio_app.workflows import events as ev
from tests.personalities.scripts import load_script

pytestmark = pytest.mark.model

PID = "english/thinking/tree_of_thoughts"
tot = load_script(PID)
DIGITS = [str(d) for d in range(10)]
QUESTION = "How can a small town reduce its traffic jams?"
# The fallback rule (most content words shared with the question) picks the second one.
CANDIDATES = [
    "Paint the hall blue.",
    "Build a ring road so that through traffic avoids the town centre and its jams.",
]


def judge(service, tmp_path, personality: Personality, **settings):
    """Run `_judge` for level 1 with the real model; the verdict, the judge's output, the
    processor (its generations) and the events it emitted."""
    info = service.model_info()
    model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
    events: list[ev.Event] = []
    values, problems = personality.local_settings()
    assert problems == []
    context = ProcessorContext(
        personality=personality,
        service=service,
        params=replace(personality.config.generation_params(), seed=11),
        cancel=threading.Event(),
        prompt_builder=PromptBuilder(lambda text: service.count_tokens(text, add_bos=True), model),
        history=[],
        outputs_folder=tmp_path / "outputs",
        work_folder=tmp_path / "work",
        emit=events.append,
        settings={**values, **settings},
    )
    processor = tot.Processor(context)
    verdict, output = processor._judge(QUESTION, [], CANDIDATES, 1)
    return verdict, output, processor, events


def step_text(events: list[ev.Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.StepText))


def test_an_unreadable_verdict_is_asked_again_strictly(service, tmp_path):
    personality = Personality.load(BUILTIN_ZOO / PID, builtin=True)
    verdict, output, processor, events = judge(service, tmp_path, personality, max_judgement_tokens=1)
    first, strict = (g.text for g in processor.generations)
    assert first.isspace()  # the one token: the space before the number
    assert tot.parse_judgement(tot.JUDGE_PREFILL + first, 2, CANDIDATES) is None
    number = tot.parse_strict(strict, 2)
    assert number is not None  # the real strict answer is a number
    assert verdict == tot.Verdict(number, "the judge answered the strict question with this number", "strict")
    assert output == f"{tot.JUDGE_PREFILL}{first}\n[strict] {tot.STRICT_PREFILL}{strict}"
    shown = step_text(events)
    assert "names no thought from 1 to 2; asking again, strictly" in shown
    assert f"**Chosen: Thought 1.{number}** (strict)" in shown
    [end] = [e for e in events if isinstance(e, ev.StepEnd)]
    assert end.title == f"⚖️ Judgement of level 1: Thought 1.{number} wins" and end.status == "done"


def test_when_the_strict_answer_is_unreadable_too_the_fallback_rule_chooses(service, tmp_path):
    folder = tmp_path / "tree_of_thoughts"
    shutil.copytree(BUILTIN_ZOO / PID, folder)
    config = folder / "config.yaml"
    digits = ", ".join(f'"{d}"' for d in DIGITS)
    original = 'anti_prompts: ["### User", "### Assistant", "###User", "###Assistant", "User:"]'
    assert original in config.read_text()
    config.write_text(config.read_text().replace(original, f"anti_prompts: [{digits}]"))
    personality = Personality.load(folder, builtin=True)

    verdict, output, processor, events = judge(service, tmp_path, personality)
    first, strict = (g.text for g in processor.generations)
    assert tot.parse_judgement(tot.JUDGE_PREFILL + first, 2, CANDIDATES) is None
    assert tot.parse_strict(strict, 2) is None
    assert all(g.result.stop_string in DIGITS for g in processor.generations)  # each cut at its number
    assert tot.fallback_choice(QUESTION, [], CANDIDATES) == 2  # the documented rule...
    assert verdict.choice == 2 and verdict.method == "fallback"  # ...is what decided
    assert "fallback rule chose it" in verdict.reason
    assert "[strict] " in output
    shown = step_text(events)
    assert "asking again, strictly" in shown and "**Chosen: Thought 1.2** (fallback)" in shown
