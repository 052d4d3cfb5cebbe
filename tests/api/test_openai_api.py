"""The OpenAI-compatible API, used with the official `openai` client against a launched app.

The app uses the personality's prefixes (`--prompt-format prefixes`) and the context of the
`service` fixture, so this process can rebuild each answer with the app's own pieces (PromptBuilder,
GenerationService, the same model) and check that the API answered in character, exactly."""

import datetime as dt
import io
import re
import shutil
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from gradio_app.config import BUILTIN_ZOO
from gradio_app.generation.params import GenerationParams
from gradio_app.personalities.prompt import BuiltPrompt, ModelPromptInfo, PromptBuilder
from gradio_app.personalities.zoo import Zoo
from tests.conftest import LaunchedApp

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.model]

KEY = "sk-test-key"
MODEL = "english/generic/lollms"
STEPS_DEMO = "english/testing/steps_demo"
PROCESSOR_ZOO = Path(__file__).resolve().parent.parent / "fixtures" / "processor_zoo"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("api-data")
    demo = data / "personalities" / STEPS_DEMO
    shutil.copytree(PROCESSOR_ZOO / STEPS_DEMO, demo)  # a scripted test personality, trusted
    (demo / ".trusted").write_text("trusted by the test\n", encoding="utf-8")
    launched = LaunchedApp(data, "--api-key", KEY, "--prompt-format", "prefixes", "--n-ctx", "2048")
    yield launched
    launched.stop()


@pytest.fixture
def client(app):
    return openai.OpenAI(base_url=f"{app.url}v1", api_key=KEY, max_retries=0, timeout=120)


def test_models_are_the_personalities(client):
    ids = [m.id for m in client.models.list().data]
    assert MODEL in ids
    assert ids == sorted(ids)


def in_character(service, question: str, wanted: dict, *, anti_prompts: bool = True) -> tuple[BuiltPrompt, str]:
    """What the app should answer: the personality's prompt (PromptBuilder, prefixes) and sampling
    (`wanted` overriding them as the request does), generated here with the same model."""
    personality = Zoo([BUILTIN_ZOO]).get(MODEL)
    info = service.model_info()
    model = ModelPromptInfo(info.n_ctx, info.chat_template, info.bos_token, info.eos_token, info.adds_bos)
    builder = PromptBuilder(lambda text: service.count_tokens(text, add_bos=True), model, "prefixes")
    params = GenerationParams.from_dict(wanted, personality.config.generation_params(GenerationParams()))
    built = builder.build(personality.config, [], question, params.n_predict, dt.datetime.now())
    stops = built.stops if anti_prompts else []
    return built, "".join(service.stream(built.text, params, stops, max_tokens=built.max_new_tokens)).strip()


def test_streaming_chat_completion_in_character(client, service):
    question = "What is the capital of France?"
    greedy = {"temperature": 0, "n_predict": 80, "seed": 3}
    built, unstopped = in_character(service, question, greedy, anti_prompts=False)
    # the personality's prompt: its conditioning, then its prefixes around the question
    assert built.text.startswith("You are LoLLMs, a helpful, honest and concise assistant.")
    assert built.text.endswith(f"### User:\n{question}\n### Assistant:\n")
    # left alone, the model writes the user's next turn: the personality's anti-prompt ends it there
    expected = unstopped[: unstopped.index("### User")].strip()
    assert expected

    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": question}],
        stream=True,
        temperature=0,
        max_tokens=80,
        seed=3,
    )
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) > 1  # it streamed
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(deltas).strip() == expected
    assert chunks[-1].choices[0].finish_reason == "stop"  # the anti-prompt, not the length
    assert chunks[-1].usage.prompt_tokens == built.n_tokens  # exactly the personality's prompt
    full = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], temperature=0, max_tokens=80, seed=3
    )
    assert full.choices[0].message.content == expected
    assert full.usage.prompt_tokens == built.n_tokens
    assert full.usage.total_tokens == full.usage.prompt_tokens + full.usage.completion_tokens
    assert full.model_extra["steps"] == []  # a plain personality has no steps


def test_the_personalitys_sampling_applies_unless_overridden(client, service):
    """Only the seed and the length come from the request: temperature, top-k, top-p and the
    repeat penalty are the personality's (0.6, 40, 0.9, 1.15), so the answer is the one they give."""
    question = "Tell me about the sea."
    _, expected = in_character(service, question, {"seed": 11, "n_predict": 40})
    _, greedy = in_character(service, question, {"seed": 11, "n_predict": 40, "temperature": 0})
    assert expected != greedy  # the sampling makes a difference for this question
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}], max_tokens=40, seed=11
    )
    assert reply.choices[0].message.content == expected


IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")


def test_a_scripted_personality_returns_its_answer_images_and_sources(client, app):
    """steps_demo (tests/fixtures/processor_zoo): nested steps, notices, an image, two sources, and
    an answer that it rewrites at the end (Processor.full)."""
    ask = {"model": STEPS_DEMO, "messages": [{"role": "user", "content": "everything please"}], "seed": 5}
    full = client.chat.completions.create(**ask, temperature=0)
    content = full.choices[0].message.content
    answer, image_line, sources = content.split("\n\n")
    # the final answer (its word from the real model), not the draft it replaced
    assert re.fullmatch(r"Hello from the settings: \S.*", answer)
    # the image, as a Markdown link to a file the client can download with its key
    [(alt, url)] = IMAGE_LINK.findall(image_line)
    assert alt == "a red square" and url == f"{app.url}v1/files/steps-demo-test.png"
    image = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).getpixel((0, 0)) == (200, 30, 30)
    # the sources, as a Sources list (the workflow's text does not link them itself)
    assert sources == "**Sources**\n- [1] [Example](https://example.org/)\n- [2] [Second](https://example.org/2)"
    # the steps never enter the answer: they come beside it
    for title in ("Outer", "Inner", "Repeat", "Manual", "an info note", "a warning note", "handled problem"):
        assert title not in content
    steps = full.model_extra["steps"]
    titles = [s["title"] for s in steps]
    assert titles[:6] == ["Outer (renamed)", "Inner", "Repeat 1", "Repeat 2", "Manual", "an info note"]
    assert {s["kind"] for s in steps} == {"step", "info", "warning", "error"}

    chunks = list(client.chat.completions.create(**ask, temperature=0, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # the draft was sent before the rewrite; the final answer and the rest follow it whole
    assert streamed.startswith("Hello from the settings / ") and streamed.endswith(f"\n\n{content}")
    latest: dict[str, dict] = {}
    for c in chunks:
        for step in (c.model_extra or {}).get("steps", []):
            latest[step["id"]] = step
    shape = ("id", "parent_id", "title", "status", "kind", "content")
    assert [{k: s[k] for k in shape} for s in latest.values()] == [{k: s[k] for k in shape} for s in steps]
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_files_need_the_key_and_stay_inside_the_outputs_folder(app):
    key = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{app.url}v1/files/steps-demo-test.png", timeout=30).status_code == 401
    (app.data_dir / "outputs" / "probe.txt").write_text("served", encoding="utf-8")
    assert httpx.get(f"{app.url}v1/files/probe.txt", headers=key, timeout=30).text == "served"
    for escape in ("..%2Fapp.log", "%2E%2E/app.log", "%2Fetc%2Fpasswd", "nothing.png"):
        response = httpx.get(f"{app.url}v1/files/{escape}", headers=key, timeout=30)
        assert response.status_code == 404, escape


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
    base = {"model": MODEL, "messages": [{"role": "user", "content": "Describe a cat."}], "temperature": 0}
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
