"""Per-discussion model states on the real model: a discussion's evaluated history survives other
discussions taking turns, a restored state answers exactly like a fresh evaluation, and the saved
states stay within their byte budget."""

import itertools

import pytest

from gradio_app.config import BUILTIN_ZOO
from gradio_app.generation.bindings.base import LoadOptions
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationService
from gradio_app.personalities.zoo import Zoo
from gradio_app.session import ChatSession
from gradio_app.workflows.events import Done
from gradio_app.workflows.runner import WorkflowRunner

pytestmark = pytest.mark.model

SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
GREEDY = GenerationParams(temperature=0, n_predict=24, seed=1)


def user(text):
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def answer(service, prompt, key, params=GREEDY):
    stream = service.stream(prompt, params, cache_key=key)
    text = stream.text()
    return text, stream.result


@pytest.mark.parametrize("question", ["What is 2+2?", "Name three colors."])
def test_a_restored_state_gives_the_same_answer_as_a_fresh_evaluation(service, question):
    prompt = SYSTEM + user(question)
    service.generate("Some unrelated text to fill the cache first.", GREEDY)
    fresh, _ = answer(service, prompt, f"fresh-{question}")
    answer(service, user("Something else entirely, at length."), f"other-{question}")
    restored, result = answer(service, prompt, f"fresh-{question}")
    assert restored == fresh
    # the state really was restored: all but the last prompt token came from it
    assert result.cached_tokens == result.prompt_tokens - 1


def conversation(service, key, questions, replies):
    """One turn of a discussion: the prompt grows by the last answer and the new question."""
    prompt = SYSTEM + "".join(user(q) + a + "<|im_end|>\n" for q, a in zip(questions, replies, strict=False))
    prompt += user(questions[len(replies)])
    text, result = answer(service, prompt, key)
    replies.append(text.strip())
    return result


def test_interleaved_discussions_answer_as_if_each_were_alone(service):
    ours = ["Hi! What is a cat?", "And a dog?", "Which one is bigger?"]
    theirs = ["Tell me about the ocean.", "What lives in it?", "Is it salty?"]
    alone: list[str] = []
    for _ in ours:
        conversation(service, "alone", ours, alone)
    interleaved: list[str] = []
    other: list[str] = []
    results = []
    for _ in ours:
        results.append(conversation(service, "ours", ours, interleaved))
        conversation(service, "theirs", theirs, other)
    assert interleaved == alone
    for previous, current in itertools.pairwise(results):
        # each turn found the whole previous prompt evaluated, though another discussion spoke since
        assert current.cached_tokens >= previous.prompt_tokens


def test_saved_states_stay_within_the_byte_budget(model_path):
    probe = GenerationService()
    probe.load(model_path, LoadOptions(n_ctx=512))
    answer(probe, SYSTEM + user("Hello there, how are you today?"), "a")
    one_state = probe._binding._save_state().nbytes
    probe.unload()

    budget = int(one_state * 1.5)  # room for one saved discussion, not two
    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=512, state_cache_bytes=budget))
    try:
        states = svc._binding.states
        prompts = {k: SYSTEM + user(f"Hello there, how are you today? I am {k}.") for k in ("a", "b", "c")}
        first = {k: answer(svc, p, k)[0] for k, p in prompts.items()}
        assert states.bytes_used <= budget
        assert states.keys() == ["b"]  # "a" was saved when "b" spoke, then evicted when "c" did
        assert states.evictions >= 1
        again_b, result_b = answer(svc, prompts["b"], "b")  # still saved: restored
        assert again_b == first["b"]
        assert result_b.cached_tokens == result_b.prompt_tokens - 1
        assert states.keys() == ["c"]  # "c" was saved in its place
        again, result = answer(svc, prompts["a"], "a")  # evicted long ago: evaluated again, same answer
        assert again == first["a"]
        assert result.cached_tokens < result.prompt_tokens - 1
        assert states.bytes_used <= budget
    finally:
        svc.unload()


def test_a_zero_budget_turns_the_cache_off_and_forget_drops_a_state(model_path):
    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=512, state_cache_bytes=0))
    try:
        answer(svc, SYSTEM + user("One."), "a")
        answer(svc, SYSTEM + user("Two."), "b")
        assert len(svc._binding.states) == 0
    finally:
        svc.unload()
    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=512))
    try:
        answer(svc, SYSTEM + user("One."), "a")
        answer(svc, SYSTEM + user("Two."), "b")
        assert "a" in svc._binding.states
        svc.forget("a")
        assert "a" not in svc._binding.states
    finally:
        svc.unload()


def test_the_runner_keys_the_cache_by_discussion(service):
    runner = WorkflowRunner(service, Zoo([BUILTIN_ZOO]))
    sessions = []
    for seed in (1, 2):
        s = ChatSession(
            personality_id="english/generic/lollms",
            override=True,
            user_params=GenerationParams(temperature=0, n_predict=16, seed=seed),
        )
        s.new_discussion(runner.zoo.get(s.personality_id))
        sessions.append(s)
    turns = {0: [], 1: []}
    for text in ("Hello!", "What can you do?"):
        for i, s in enumerate(sessions):
            done = list(runner.run_turn(s, f"{text} (from browser {i})"))[-1]
            assert isinstance(done, Done)
            turns[i].append(done.metadata)
    for first, second in turns.values():
        assert "cached_tokens" in second
        assert second["cached_tokens"] >= first["prompt_tokens"]
