"""The UI contract: a launched `python app.py`, driven through gradio_client like any API user."""

import shutil
import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.conftest import FIXTURE_ZOO, LaunchedApp, chat_texts

pytestmark = [pytest.mark.ui, pytest.mark.slow]

PARAMS_ORDER = ["temperature", "top_k", "top_p", "repeat_penalty", "repeat_last_n", "n_predict", "seed"]


def texts(chat):
    return chat_texts(chat)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("ui-data")
    target = data / "personalities" / "english" / "generic" / "gpt4all"
    shutil.copytree(FIXTURE_ZOO / "english" / "generic" / "gpt4all", target)
    launched = LaunchedApp(data)
    yield launched
    launched.stop()


def client(app):
    return Client(app.url, verbose=False)


def apply(c, **params):
    values = {"temperature": 0.0, "top_k": 40, "top_p": 0.9, "repeat_penalty": 1.1, "repeat_last_n": 64}
    values.update({"n_predict": 64, "seed": 1}, **params)
    return c.predict("auto", True, *[values[n] for n in PARAMS_ORDER], api_name="/apply_settings")


def test_the_app_prints_its_url(app):
    assert f"running at {app.url}" in app.log()


def test_send_streams_an_answer_after_the_welcome_message(app):
    c = client(app)
    apply(c)  # greedy, seeded: the same answer every run
    job = c.submit("What is the capital of France?", api_name="/send")
    updates = [texts(chat) for chat, _ in job]
    final = texts(job.result()[0])
    assert final[0][0] == "assistant" and "LoLLMs" in final[0][1]  # the welcome message
    assert final[1] == ("user", "What is the capital of France?")
    assert final[2][0] == "assistant" and len(final[2][1]) > 5
    partial = [u[-1][1] for u in updates if len(u) == 3]
    assert len(set(partial)) >= 2  # the answer grew over several updates: it streamed
    assert job.result()[1] == ""  # the textbox was cleared
    # same settings and seed in a fresh discussion: the very same answer
    c.predict(api_name="/new_discussion")
    again = texts(c.predict("What is the capital of France?", api_name="/send")[0])
    assert again[2] == final[2]


def test_stop_ends_a_long_generation_quickly(app):
    c = client(app)
    apply(c, n_predict=2000, temperature=0.8)
    job = c.submit("Write a very long story about a dragon and a knight, with many chapters.", api_name="/send")
    for seen, _ in enumerate(job, start=1):
        if seen == 5:
            break
    stopped_at = time.monotonic()
    c.predict(api_name="/stop")
    final = texts(job.result(timeout=30)[0])
    assert time.monotonic() - stopped_at < 3
    assert final[-1][0] == "assistant"
    # the partial answer is kept
    assert len(final[-1][1]) > 0


def test_two_concurrent_browsers_never_see_each_others_messages(app):
    results = {}

    def chat(name):
        c = client(app)
        apply(c, n_predict=24)
        results[name] = texts(c.predict(f"Hello, I am {name}.", api_name="/send")[0])

    threads = [threading.Thread(target=chat, args=(n,)) for n in ("Alice", "Bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [m for m in results["Alice"] if m[0] == "user"] == [("user", "Hello, I am Alice.")]
    assert [m for m in results["Bob"] if m[0] == "user"] == [("user", "Hello, I am Bob.")]


def test_new_discussion_starts_over_with_the_welcome(app):
    c = client(app)
    c.predict("Hi", api_name="/send")
    chat, header = c.predict(api_name="/new_discussion")
    assert len(texts(chat)) == 1 and texts(chat)[0][0] == "assistant"
    assert "LoLLMs" in header


def test_select_a_personality_then_chat_with_it(app):
    c = client(app)
    c.predict("english/generic/gpt4all", api_name="/select_personality")
    chat, _ = c.predict("Who are you?", api_name="/send")
    final = texts(chat)
    assert "gpt4all" in final[0][1]  # its own welcome message
    assert final[1] == ("user", "Who are you?")
    assert final[2][0] == "assistant"


def test_out_of_range_settings_are_refused_and_nothing_changes(app):
    c = client(app)
    apply(c, n_predict=3)
    with pytest.raises(AppError, match="5"):
        c.predict("auto", True, 5.0, 40, 0.9, 1.1, 64, 64, 1, api_name="/apply_settings")
    chat, _ = c.predict("Tell me a long story.", api_name="/send")
    assert len(texts(chat)[-1][1].split()) <= 3  # still the applied n_predict=3
