"""The OpenAI-compatible binding against a real server: llama-cpp-python's `llama_cpp.server`
serving the default model on 127.0.0.1. Streaming, stops, seeds, Stop, a dead or silent server,
and switching bindings mid-session through the service's queue."""

import socket
import threading
import time

import pytest

from gradio_app.generation.bindings.base import GenerationError, LoadOptions, ModelLoadError
from gradio_app.generation.bindings.openai_compat import (
    GENERIC,
    LLAMA_CPP_SERVER,
    OLLAMA,
    VLLM,
    OpenAICompatBinding,
    ServerOptions,
    completion_request,
    estimate_tokens,
)
from gradio_app.generation.params import GenerationParams
from gradio_app.generation.service import GenerationService
from tests.conftest import LlamaServer, free_port

pytestmark = [pytest.mark.model, pytest.mark.slow]

CHAT = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
COUNT = CHAT.format("Count from 1 to 20, separated by commas.")
STORY = CHAT.format("Write a long story about a dragon and a knight, with many chapters.")
GREEDY = GenerationParams(temperature=0, repeat_penalty=1.0, n_predict=40, seed=1)


@pytest.fixture(scope="module")
def remote(llama_server):
    svc = GenerationService()
    svc.connect(lambda: OpenAICompatBinding(ServerOptions(llama_server.url, n_ctx=2048, timeout_s=30)))
    yield svc
    svc.unload()


def test_connecting_reads_what_the_server_tells(remote, llama_server):
    info = remote.model_info()
    assert info.binding == "openai" and info.source == llama_server.url
    assert info.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert info.metadata["server"] == "llama-cpp-python server"
    assert info.exact_token_counts  # it has /extras/tokenize
    assert info.n_ctx == 2048 and "setting" in info.metadata["n_ctx_source"]  # it does not report n_ctx
    assert info.chat_template is None  # nor the template: personality prefixes are used


def test_token_counts_are_the_models_own(remote, service):
    for text in (COUNT, "Hello, world! " * 20, "日本語のテキスト", "def f(x):\n    return x * 2\n"):
        assert remote.count_tokens(text, add_bos=True) == service.count_tokens(text, add_bos=True)
        assert remote.count_tokens(text) == service.count_tokens(text)
    assert remote.tokenize("<|im_start|>") == service.tokenize("<|im_start|>")  # control tokens parsed


def test_the_answer_streams_piece_by_piece(remote):
    stream = remote.stream(COUNT, GREEDY)
    pieces = [p for p in stream if p]
    assert len(pieces) >= 10
    result = stream.result
    assert result.text == "".join(pieces) and "1" in result.text
    assert result.binding == "openai" and result.completion_tokens == 40 and result.stop_reason == "length"
    assert result.prompt_tokens == remote.count_tokens(COUNT, add_bos=True)
    assert result.params == GREEDY.to_dict()


def test_stop_strings_are_passed_to_the_server(remote):
    stream = remote.stream(COUNT, GREEDY, stops=["7"])
    text = stream.text()
    assert "7" not in text and "6" in text
    # the server stopped on it (OpenAI's finish_reason "stop"): our detector never saw the marker
    assert stream.result.stop_reason == "stop" and stream.result.completion_tokens < 40


def test_our_stop_detector_catches_what_the_server_does_not(remote):
    """The server matches stop strings case-sensitively; anti-prompts are case-insensitive here,
    so the detector cuts 'the' for 'THE' exactly as it does in-process."""
    stream = remote.stream(STORY, GenerationParams(temperature=0, n_predict=60, seed=1), stops=["THE"])
    text = stream.text()
    assert stream.result.stop_reason == "stop_string" and stream.result.stop_string == "THE"
    assert "the" not in text.lower()
    full = remote.generate(STORY, GenerationParams(temperature=0, n_predict=60, seed=1))
    assert full.lower().startswith(text.lower()) and "the" in full[len(text) : len(text) + 4].lower()


def test_the_same_seed_gives_the_same_answer(remote):
    params = GenerationParams(temperature=0.9, top_k=50, top_p=0.95, n_predict=30, seed=1234)
    first = remote.generate(STORY, params)
    assert remote.generate(STORY, params) == first
    other = remote.generate(STORY, GenerationParams(temperature=0.9, top_k=50, top_p=0.95, n_predict=30, seed=99))
    assert other != first


def test_stop_closes_the_stream_quickly_and_the_server_stays_usable(remote):
    stream = remote.stream(STORY, GenerationParams(temperature=0.8, n_predict=1500, seed=3))
    pieces = iter(stream)
    next(p for p in pieces if p)
    started = time.monotonic()
    threading.Timer(0.3, stream.cancel.set).start()
    rest = "".join(pieces)
    assert time.monotonic() - started < 3
    assert stream.result.stop_reason == "cancelled" and stream.result.completion_tokens < 300
    assert len(rest) < 2000
    assert remote.generate(COUNT, GREEDY)  # the next request is served normally


def test_stop_works_even_before_the_first_token(remote):
    stream = remote.stream(STORY, GenerationParams(temperature=0.8, n_predict=1500, seed=3))
    stream.cancel.set()
    assert stream.text() == "" and stream.result.stop_reason == "cancelled"


def test_no_server_is_a_clear_load_error():
    port = free_port()
    with pytest.raises(ModelLoadError, match=rf"Cannot connect to the server at http://127.0.0.1:{port}/v1"):
        OpenAICompatBinding(ServerOptions(f"http://127.0.0.1:{port}/v1"))


def test_a_wrong_model_name_lists_the_servers_models(llama_server):
    with pytest.raises(ModelLoadError, match=r"has no model 'llama-70b'; it offers: .*SmolLM2"):
        OpenAICompatBinding(ServerOptions(llama_server.url, model="llama-70b"))


def test_a_server_that_never_answers_times_out_clearly():
    with socket.socket() as listener:  # accepts connections, never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        started = time.monotonic()
        with pytest.raises(ModelLoadError, match="did not answer in time"):
            OpenAICompatBinding(ServerOptions(url, timeout_s=1))
        assert time.monotonic() - started < 10


def test_a_server_dying_mid_answer_is_an_error_and_the_app_goes_on(model_path, tmp_path, service):
    doomed = LlamaServer(model_path, tmp_path / "doomed.log")
    try:
        svc = GenerationService()
        svc.connect(lambda: OpenAICompatBinding(ServerOptions(doomed.url, n_ctx=2048, timeout_s=30)))
        stream = svc.stream(STORY, GenerationParams(temperature=0.8, n_predict=1500, seed=3))
        pieces = iter(stream)
        next(p for p in pieces if p)
        doomed.kill()
        with pytest.raises(GenerationError, match="broke mid-answer"):
            for _ in pieces:
                pass
        with pytest.raises(GenerationError, match=r"Cannot connect|did not answer"):
            svc.generate(COUNT, GREEDY)
        # switching back to the in-process model needs no restart
        svc.load(service.model_info().path, LoadOptions(n_ctx=1024))
        assert svc.generate(COUNT, GREEDY)
    finally:
        doomed.stop()


def test_switching_bindings_waits_for_the_answer_in_flight(model_path, llama_server):
    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=1024))
    stream = svc.stream(COUNT, GenerationParams(temperature=0, n_predict=40, seed=1))
    pieces = iter(stream)
    next(p for p in pieces if p)  # in-process generation under way, holding the model
    switched = threading.Event()

    def switch():
        svc.connect(lambda: OpenAICompatBinding(ServerOptions(llama_server.url, n_ctx=2048)))
        switched.set()

    switcher = threading.Thread(target=switch)
    switcher.start()
    time.sleep(0.3)
    assert not switched.is_set()  # it waits its turn in the queue
    rest = "".join(pieces)
    switcher.join(60)
    assert switched.is_set()
    assert stream.result.binding == "llama_cpp" and stream.result.stop_reason in ("length", "eos") and rest
    after = svc.stream(COUNT, GREEDY)
    assert after.text() and after.result.binding == "openai"
    svc.load(model_path, LoadOptions(n_ctx=1024))
    back = svc.stream(COUNT, GREEDY)
    assert back.text() and back.result.binding == "llama_cpp"
    svc.unload()


def test_each_server_gets_the_sampling_fields_it_understands():
    params = GenerationParams(temperature=0.5, top_k=0, top_p=0.8, repeat_penalty=1.2, repeat_last_n=32, seed=5)
    base = {"model": "m", "prompt": "p", "stream": True, "max_tokens": 9, "temperature": 0.5, "top_p": 0.8, "seed": 5}
    llama = completion_request(LLAMA_CPP_SERVER, "m", "p", params, 9, 5, ["</s>"])
    assert llama == {
        **base,
        "stop": ["</s>"],
        "top_k": 0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repeat_penalty": 1.2,
        "repeat_last_n": 32,
    }
    vllm = completion_request(VLLM, "m", "p", params, 9, 5, [])
    assert vllm == {
        **base,
        "top_k": -1,
        "min_p": 0.0,
        "repetition_penalty": 1.2,
        "stream_options": {"include_usage": True},
    }
    assert completion_request(OLLAMA, "m", "p", params, 9, 5, []) == {
        **base,
        "stream_options": {"include_usage": True},
    }
    assert completion_request(GENERIC, "m", "p", params, 9, 5, []) == {**base, "top_k": 0, "repeat_penalty": 1.2}


def test_the_token_estimate_errs_on_the_high_side(service):
    samples = [
        "The quick brown fox jumps over the lazy dog. It was a sunny afternoon outside. " * 10,
        "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n" * 10,
        "for (int i = 0; i < n; ++i) {\n\t\tsum += a[i] * b[i];\n\t}\n" * 10,
        "Les élèves étudient à l'école, où ils apprennent beaucoup de choses. " * 10,
        "Die Größe der Überschrift hängt von der Bildschirmauflösung ab. " * 10,
        "这是一个测试句子，用来检查估计值。" * 10,
        "Это тестовое предложение для проверки оценки количества токенов. " * 10,
        "1234567890 " * 50,
        '{"name": "value", "list": [1, 2, 3], "nested": {"a": true}}\n' * 10,
        "hello 😀🎉👍 world " * 20,
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG " * 10,
        CHAT.format("Hello there"),
    ]
    for text in samples:
        assert estimate_tokens(text) >= service.count_tokens(text, add_bos=True), text[:30]
    english = samples[0]
    assert estimate_tokens(english) < 2 * service.count_tokens(english, add_bos=True)  # not absurdly high
