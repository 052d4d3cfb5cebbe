"""The OpenAI-compatible API, used with the official `openai` client against a launched app."""

import httpx
import openai
import pytest

from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow]

KEY = "sk-test-key"
MODEL = "english/generic/lollms"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    launched = LaunchedApp(tmp_path_factory.mktemp("api-data"), "--api-key", KEY)
    yield launched
    launched.stop()


@pytest.fixture
def client(app):
    return openai.OpenAI(base_url=f"{app.url}v1", api_key=KEY, max_retries=0, timeout=120)


def test_models_are_the_personalities(client):
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids
    assert ids == sorted(ids)


def test_streaming_chat_completion_in_character(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Who are you?"}],
        stream=True,
        temperature=0,
        max_tokens=48,
        seed=3,
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 1  # it streamed
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}
    assert chunks[-1].usage.completion_tokens >= 1
    full = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Who are you?"}], temperature=0, max_tokens=48, seed=3
    )
    assert full.choices[0].message.content.strip()
    assert 0 < full.usage.completion_tokens <= 48
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens


def test_history_and_params_are_used(client):
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "ignored: the personality's conditioning applies"},
            {"role": "user", "content": "Count from 1 to 10."},
            {"role": "assistant", "content": "1, 2, 3"},
            {"role": "user", "content": "Go on."},
        ],
        max_tokens=4,
        temperature=0,
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 4


def test_stop_strings_from_the_request(client):
    base = {"model": MODEL, "messages": [{"role": "user", "content": "Count from 1 to 20."}], "temperature": 0}
    full = client.chat.completions.create(**base, max_tokens=60).choices[0].message.content
    marker = full.strip()[6:9]
    assert marker.strip()
    cut = client.chat.completions.create(**base, max_tokens=60, stop=[marker]).choices[0].message.content
    assert cut == full[: full.index(marker)].strip()


def test_unknown_model_and_bad_requests_get_openai_errors(client, app):
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="english/none/ghost", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=9)
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "assistant", "content": "hi"}])


def test_requests_without_the_key_are_refused(app):
    response = httpx.get(f"{app.url}v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    wrong = openai.OpenAI(base_url=f"{app.url}v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
