"""PWEBUI_DOWNLOAD_MODEL (a Space's bigger default model): the app serves at once with the model it
has, fetches the models-zoo file from the Hub (here a loopback server speaking like it) and
switches to it when it is complete; a failed download leaves everything as it was."""

import time

import pytest
from gradio_client import Client

from gradio_app.generation.models_zoo import CATALOG
from tests.conftest import LaunchedApp
from tests.file_server import Hub

pytestmark = [pytest.mark.ui, pytest.mark.slow]

MODEL = next(m for m in CATALOG if not m.sha256)


def wait_for_log(app, needle, timeout=120):
    deadline = time.monotonic() + timeout
    while needle not in app.log():
        assert time.monotonic() < deadline, f"never logged {needle!r}:\n{app.log()[-3000:]}"
        time.sleep(0.2)


def test_the_app_switches_to_the_downloaded_model(tmp_path, model_path):
    hub = Hub({f"/{MODEL.repo}/resolve/{MODEL.revision}/{MODEL.file}": model_path.read_bytes()})
    try:
        env = {"HF_ENDPOINT": hub.url, "PWEBUI_DOWNLOAD_MODEL": MODEL.id}
        app = LaunchedApp(tmp_path / "data", "--n-ctx", "2048", env=env)
        try:
            wait_for_log(app, "start-up download: now using")
            c = Client(app.url, verbose=False)
            settings = c.predict(api_name="/current_settings")["settings"]
            assert settings["model.path"].endswith(MODEL.file)
            assert (tmp_path / "data" / "models" / MODEL.file).stat().st_size == model_path.stat().st_size
            assert c.predict("Hi", api_name="/send")[0][-1]["role"] == "assistant"
        finally:
            app.stop()
    finally:
        hub.close()


def test_a_failed_download_keeps_the_embedded_model(tmp_path):
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "PWEBUI_DOWNLOAD_MODEL": MODEL.id}
    app = LaunchedApp(tmp_path / "data", "--n-ctx", "2048", env=env)
    try:
        wait_for_log(app, f"Could not download {MODEL.name}")
        c = Client(app.url, verbose=False)
        assert not c.predict(api_name="/current_settings")["settings"]["model.path"]
        assert c.predict("Hi", api_name="/send")[0][-1]["role"] == "assistant"
        assert not (tmp_path / "data" / "models" / MODEL.file).exists()
    finally:
        app.stop()
