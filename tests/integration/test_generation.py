"""GenerationService on the real SmolLM2 model: seeds, stops, Stop, the queue, load errors."""

import os
import threading
import time

import pytest

from gradio_app.generation.bindings.base import LoadOptions, ModelLoadError
from gradio_app.generation.bindings.llama_cpp import LlamaCppBinding
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import FairQueue, GenerationService, ModelNotLoaded

pytestmark = pytest.mark.model

CHAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
COUNT = CHAT.format("Count from 1 to 20, separated by commas.")
GREEDY = GenerationParams(temperature=0, repeat_penalty=1.0, n_predict=60, seed=1)


def test_same_seed_same_text_different_seed_different_text(service):
    prompt = CHAT.format("Tell me a short story about a robot.")
    params = GenerationParams(temperature=0.9, top_k=50, top_p=0.95, n_predict=40, seed=1234)
    first = service.generate(prompt, params)
    second = service.generate(prompt, params)
    other = service.generate(prompt, GenerationParams(temperature=0.9, top_k=50, top_p=0.95, n_predict=40, seed=99))
    assert first == second
    assert first != other
    assert len(first) > 20


@pytest.mark.parametrize("question", ["What is 2+2?", "What is the capital of France?", "Name three colors."])
def test_the_same_seed_gives_the_same_answer_whatever_the_cache_holds(service, question):
    """Fresh prompt, fully cached prompt, prompt after another one: one answer (the CPU kernels
    round a one-token batch differently from a long one; the binding evaluates the last prompt
    token on its own every time so the cache history cannot change the first logits)."""
    prompt = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" + CHAT.format(question)
    params = GenerationParams(temperature=0, n_predict=24, seed=1)
    service.generate("Some unrelated text to fill the cache first.", params)
    fresh = service.generate(prompt, params)
    cached = service.generate(prompt, params)
    service.generate(CHAT.format("Something else entirely."), params)
    after_other = service.generate(prompt, params)
    assert fresh == cached == after_other


def test_random_seed_is_recorded_and_reproduces_the_text(service):
    prompt = CHAT.format("Name three fruits.")
    stream = service.stream(prompt, GenerationParams(temperature=1.0, n_predict=30, seed=-1))
    text = stream.text()
    used = stream.result.seed
    assert used >= 0
    assert service.generate(prompt, GenerationParams(temperature=1.0, n_predict=30, seed=used)) == text


def test_n_predict_limits_tokens_and_reports_length(service):
    stream = service.stream(COUNT, GenerationParams(temperature=0, n_predict=7))
    stream.text()
    assert stream.result.completion_tokens == 7
    assert stream.result.stop_reason == "length"
    assert stream.result.prompt_tokens == len(service.tokenize(COUNT))


def test_eos_ends_generation(service):
    stream = service.stream(CHAT.format("Say hello."), GenerationParams(temperature=0, n_predict=400))
    stream.text()
    assert stream.result.stop_reason == "eos"
    assert stream.result.completion_tokens < 400


def test_stop_string_split_across_tokens_cuts_a_real_stream(service):
    full = service.generate(COUNT, GREEDY)
    marker = "4. 4\n5"  # the model emits it as several single-character tokens
    assert marker in full
    stream = service.stream(COUNT, GREEDY, stops=[marker.upper()])
    pieces = list(stream)
    shown = "".join(pieces)
    assert shown == full[: full.index(marker)]
    assert stream.result.stop_reason == "stop_string"
    assert stream.result.stop_string == marker.upper()
    for i in range(len(pieces)):  # no prefix of the stream ever ended in a piece of the marker
        assert full.startswith("".join(pieces[: i + 1]))


def test_hallucinated_user_turn_is_suppressed(service):
    """In prefix form the model goes on to write the user's next turn; the anti-prompt stops it."""
    prompt = "### User:\nWrite a short dialogue between a user and an assistant about cats.\n### Assistant:\n"
    params = GenerationParams(temperature=0.8, n_predict=200, seed=3)
    full = service.generate(prompt, params)
    assert "User:" in full  # the model really does hallucinate here
    cut = service.generate(prompt, params, stops=["user:"])
    assert cut == full[: full.index("User:")]
    assert "User" not in cut


def test_repeat_last_n_changes_generation(service):
    """The penalty window is applied per call (via Llama.last_n_tokens_size)."""
    base = {"temperature": 0.0, "n_predict": 40, "repeat_penalty": 1.5}
    off = service.generate(COUNT, GenerationParams(**base, repeat_last_n=0))
    short = service.generate(COUNT, GenerationParams(**base, repeat_last_n=8))
    wide = service.generate(COUNT, GenerationParams(**base, repeat_last_n=64))
    assert off.startswith("1. 1\n2. 2\n3. 3")  # no penalty: the model happily repeats
    assert short != off
    assert wide != short


def test_stop_cancels_within_one_token(service):
    cancel = threading.Event()
    stream = service.stream(COUNT, GenerationParams(temperature=0, n_predict=200), cancel=cancel)
    seen = 0
    for piece in stream:
        if piece:
            seen += 1
        if seen == 5:
            cancel.set()
    assert stream.result.stop_reason == "cancelled"
    # the binding checks the flag after every token: at most one token more than we had seen
    assert stream.result.completion_tokens <= 6


def test_closing_the_stream_releases_the_model(service):
    stream = iter(service.stream(COUNT, GenerationParams(temperature=0, n_predict=200)))
    next(stream)
    stream.close()  # what happens when a browser tab goes away
    assert service.generate(CHAT.format("Hi"), GenerationParams(n_predict=3, seed=1)) is not None


def test_concurrent_requests_are_served_one_at_a_time_in_order(service):
    order: list[int] = []
    positions: dict[int, set[int]] = {}
    lock = threading.Lock()

    def worker(i: int) -> None:
        stream = service.stream(COUNT, GenerationParams(temperature=0, n_predict=25))
        started = False
        for piece in stream:
            if piece == "":
                positions.setdefault(i, set()).add(stream.queue_position)
            elif not started:
                started = True
                with lock:
                    order.append(i)

    threads = []
    for i in range(4):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        time.sleep(0.05)  # arrival order 0, 1, 2, 3
    for t in threads:
        t.join(120)
    assert order == [0, 1, 2, 3]
    assert max(positions.get(3, {0})) >= 1  # the last one saw requests ahead of it


def test_cancel_while_waiting_leaves_the_queue(service):
    first = iter(service.stream(COUNT, GenerationParams(temperature=0, n_predict=40)))
    next(first)  # holds the model
    cancel = threading.Event()
    waiting = service.stream(COUNT, GenerationParams(n_predict=5), cancel=cancel)
    it = iter(waiting)
    assert next(it) == ""  # waiting
    assert waiting.queue_position == 1
    cancel.set()
    assert list(it) == []
    assert waiting.result.stop_reason == "cancelled"
    list(first)
    assert service.queue_length == 0


def test_fair_queue_positions():
    queue = FairQueue()
    a, b, c = object(), object(), object()
    for t in (a, b, c):
        queue.enter(t)
    assert queue.try_acquire(a, 0.1)
    assert queue.position(b) == 1 and queue.position(c) == 2
    assert not queue.try_acquire(c, 0.05)
    queue.leave(b)
    queue.release()
    assert queue.try_acquire(c, 0.1)
    queue.release()


def test_threads_default_to_all_cores(model_path):
    binding = LlamaCppBinding(model_path, LoadOptions(n_ctx=512))
    try:
        assert binding._llm.n_threads == (os.cpu_count() or 1)
    finally:
        binding.close()


def test_model_load_errors_are_clear_and_keep_the_old_model(tmp_path, model_path):
    svc = GenerationService()
    with pytest.raises(ModelNotLoaded, match="No model is loaded"):
        svc.stream("x", GenerationParams())
    with pytest.raises(ModelLoadError, match="not found"):
        svc.load(tmp_path / "missing.gguf")
    assert "not found" in svc.load_error
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 definitely a zip")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        svc.load(not_gguf)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(model_path.read_bytes()[:200_000])
    with pytest.raises(ModelLoadError, match="could not load"):
        svc.load(truncated)
    svc.load(model_path, LoadOptions(n_ctx=512))
    with pytest.raises(ModelLoadError):
        svc.load(truncated)
    assert svc.is_loaded  # the working model is still there
    assert svc.generate(CHAT.format("Hi"), GenerationParams(n_predict=3, seed=1)) is not None
    svc.unload()


@pytest.mark.slow
def test_token_counts_survive_reloads_and_unloads(model_path):
    """count_tokens skips the queue; a reload closes the model it may be using. It must neither
    crash nor fail, except with the clear ModelNotLoaded while no model is loaded at all."""
    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=512))
    text = "The quick brown fox jumps over the lazy dog. " * 40
    expected = svc.count_tokens(text)
    stop = threading.Event()
    counts: list[int] = []
    unexpected: list[BaseException] = []
    not_loaded = 0

    def hammer() -> None:
        nonlocal not_loaded
        while not stop.is_set():
            try:
                counts.append(svc.count_tokens(text))
            except ModelNotLoaded:
                not_loaded += 1
            except BaseException as e:  # AttributeError on a closed binding was the bug
                unexpected.append(e)
                return

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(4):  # reloads, one of them after an unload
            time.sleep(0.05)
            if i == 2:
                svc.unload()
                time.sleep(0.02)
            svc.load(model_path, LoadOptions(n_ctx=512))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not unexpected, unexpected
    assert counts and set(counts) == {expected}
    assert svc.count_tokens(text) == expected
    assert not svc._leases and not svc._retired  # every swapped-out model was closed
    svc.unload()


def test_a_closed_binding_says_so_clearly(model_path):
    binding = LlamaCppBinding(model_path, LoadOptions(n_ctx=512))
    binding.close()
    with pytest.raises(ModelNotLoaded, match="was closed"):
        binding.count_tokens("hello")


def test_answers_record_the_model_file_and_its_hash(tmp_path, model_path):
    """The file and its SHA-256 prefix are recorded once the background hash is known; a re-load
    (or a new service with the same cache file) does not read the file again."""
    import hashlib

    from gradio_app.generation.model_files import FileHashes

    hashes = FileHashes(tmp_path / "model-hashes.json")
    svc = GenerationService(hashes=hashes)
    info = svc.load(model_path, LoadOptions(n_ctx=512))
    assert info.file_name == model_path.name and info.size_bytes == model_path.stat().st_size
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    deadline = time.monotonic() + 60
    while not svc.info.file_sha256 and time.monotonic() < deadline:
        time.sleep(0.05)
    stream = svc.stream(CHAT.format("Hi"), GenerationParams(n_predict=3, seed=1))
    stream.text()
    meta = stream.result.to_dict()
    assert meta["model_file"] == model_path.name
    assert meta["model_size_bytes"] == model_path.stat().st_size
    assert meta["model_sha256"] == digest[:12]
    assert hashes.computed == 1
    assert svc.load(model_path, LoadOptions(n_ctx=512)).file_sha256 == digest[:12]  # known at once
    again = GenerationService(hashes=FileHashes(tmp_path / "model-hashes.json"))
    assert again.load(model_path, LoadOptions(n_ctx=512)).file_sha256 == digest[:12]
    assert again.hashes.computed == 0 and hashes.computed == 1
    svc.unload()
    again.unload()
