"""Models zoo downloads through the real code path, from a real HTTP server on 127.0.0.1 serving a
real GGUF (a copy of the default model): progress, resume after an interrupted transfer, checksum
refusal, and never a partial file offered as a model."""

import hashlib
import shutil
import threading

import pytest

from gradio_app.generation.model_files import find_models, read_gguf_facts
from gradio_app.generation.models_zoo import (
    CATALOG,
    CATALOG_BY_ID,
    ChecksumMismatch,
    DownloadCancelled,
    DownloadError,
    ModelDownloads,
    download_file,
    part_path,
)
from tests.conftest import free_port
from tests.file_server import Hub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gguf(model_path):
    data = model_path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def hub(gguf):
    data, _ = gguf
    files = {f"/{m.repo}/resolve/{m.revision}/{m.file}": data for m in CATALOG}
    files["/test/model.gguf"] = data
    files["/test/not-a-model.gguf"] = b"<html>Sign in to download</html>" * 100
    server = Hub(files)
    yield server
    server.close()


def test_a_download_reports_progress_verifies_and_lands_whole(tmp_path, hub, gguf):
    data, sha = gguf
    seen = []
    dest = download_file(f"{hub.url}/test/model.gguf", tmp_path / "model.gguf", sha256=sha, on_progress=seen.append)
    assert dest.read_bytes() == data
    assert not part_path(dest).exists()
    phases = [p.phase for p in seen]
    assert phases[0] == "downloading" and phases[-1] == "done" and "verifying" in phases
    assert seen[-1].done == seen[-1].total == len(data)
    assert read_gguf_facts(dest).quantization == "Q4_1"


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path, hub, gguf):
    data, sha = gguf
    dest = tmp_path / "model.gguf"
    hub.cut_after = 10 * 2**20
    with pytest.raises(DownloadError, match="partial file is kept"):
        download_file(f"{hub.url}/test/model.gguf", dest, sha256=sha, timeout_s=10)
    part = part_path(dest)
    assert part.stat().st_size == 10 * 2**20 and not dest.exists()
    assert find_models([tmp_path]) == []  # a partial file is never offered as a model
    hub.cut_after = None
    seen = []
    download_file(f"{hub.url}/test/model.gguf", dest, sha256=sha, on_progress=seen.append)
    assert hub.requests[-1]["range"] == f"bytes={10 * 2**20}-"
    assert dest.read_bytes() == data and not part.exists()
    assert seen[-1].resumed_from == 10 * 2**20


def test_a_server_that_ignores_range_restarts_cleanly(tmp_path, hub, gguf):
    data, sha = gguf
    dest = tmp_path / "model.gguf"
    part_path(dest).write_bytes(b"stale bytes from an older file")
    hub.ignore_range = True
    download_file(f"{hub.url}/test/model.gguf", dest, sha256=sha)
    assert dest.read_bytes() == data


def test_a_complete_partial_file_is_finished_without_downloading_again(tmp_path, hub, gguf):
    data, sha = gguf
    dest = tmp_path / "model.gguf"
    part_path(dest).write_bytes(data)
    download_file(f"{hub.url}/test/model.gguf", dest, sha256=sha)
    assert hub.requests[-1]["range"] == f"bytes={len(data)}-"  # answered 416: nothing left to send
    assert dest.read_bytes() == data


def test_a_checksum_mismatch_is_refused_and_nothing_is_left(tmp_path, hub):
    dest = tmp_path / "model.gguf"
    with pytest.raises(ChecksumMismatch, match="does not match its published SHA-256"):
        download_file(f"{hub.url}/test/model.gguf", dest, sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_gguf_is_refused(tmp_path, hub):
    with pytest.raises(DownloadError, match="not a usable GGUF"):
        download_file(f"{hub.url}/test/not-a-model.gguf", tmp_path / "x.gguf")
    assert list(tmp_path.iterdir()) == []


def test_missing_files_and_missing_network_are_explained(tmp_path, hub):
    with pytest.raises(DownloadError, match="404"):
        download_file(f"{hub.url}/test/gone.gguf", tmp_path / "gone.gguf")
    with pytest.raises(DownloadError, match="Downloads need network access"):
        download_file(f"http://127.0.0.1:{free_port()}/x.gguf", tmp_path / "x.gguf")
    assert list(tmp_path.iterdir()) == []


def test_cancel_keeps_the_partial_file_for_later(tmp_path, hub, gguf):
    data, sha = gguf
    hub.slow = True
    cancel = threading.Event()
    dest = tmp_path / "model.gguf"

    def stop_soon(progress):
        if progress.done > 2**20:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_file(f"{hub.url}/test/model.gguf", dest, sha256=sha, cancel=cancel, on_progress=stop_soon)
    assert 0 < part_path(dest).stat().st_size < len(data) and not dest.exists()


def test_catalog_downloads_run_in_the_background_from_the_configured_hub(tmp_path, hub, gguf):
    data, _ = gguf
    downloads = ModelDownloads(tmp_path, env={"HF_ENDPOINT": hub.url})
    unverified = next(m for m in CATALOG if not m.sha256)
    job = downloads.start(unverified.id)
    assert downloads.start(unverified.id) is job  # asking twice joins the running download
    assert job.finished.wait(120) and job.ok, job.error
    assert downloads.installed(unverified) and (tmp_path / unverified.file).read_bytes() == data
    assert [m.path.name for m in find_models([tmp_path])] == [unverified.file]
    assert "downloaded" in job.describe()
    # a model with a published checksum: the served bytes are not that model, so it is refused
    pinned = next(m for m in CATALOG if m.sha256)
    refused = downloads.start(pinned.id)
    assert refused.finished.wait(120) and "SHA-256" in refused.error
    assert not downloads.installed(pinned) and downloads.partial_bytes(pinned) == 0
    with pytest.raises(DownloadError, match="No model"):
        downloads.start("no-such-model")


def test_the_catalog_is_well_formed():
    assert len(CATALOG) == len(CATALOG_BY_ID) >= 5
    for m in CATALOG:
        assert m.file.endswith(".gguf") and m.repo.count("/") == 1 and m.license
        assert m.url().startswith(f"https://huggingface.co/{m.repo}/resolve/")
        if m.sha256:  # a checksum belongs to one exact file: the revision must be a commit
            assert len(m.sha256) == 64 and len(m.revision) == 40


def test_found_models_skip_projectors_parts_and_non_gguf(tmp_path, model_path):
    shutil.copy(model_path, tmp_path / "a.gguf")
    (tmp_path / "org" / "repo").mkdir(parents=True)
    shutil.copy(model_path, tmp_path / "org" / "repo" / "big-00001-of-00002.gguf")
    (tmp_path / "org" / "repo" / "big-00002-of-00002.gguf").write_bytes(b"GGUF")
    (tmp_path / "mmproj-vision.gguf").write_bytes(b"GGUF")
    (tmp_path / "b.gguf.part").write_bytes(b"GGUF")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "broken.gguf").write_bytes(b"not a model")
    found = {m.path.name: m for m in find_models([tmp_path, tmp_path])}  # a folder listed twice counts once
    assert set(found) == {"a.gguf", "big-00001-of-00002.gguf", "broken.gguf"}
    assert found["big-00001-of-00002.gguf"].parts == 2
    assert found["a.gguf"].facts.quantization == "Q4_1" and found["a.gguf"].facts.has_chat_template
    assert found["broken.gguf"].facts is None and "not a GGUF" in found["broken.gguf"].problem


def test_offline_the_models_zoo_says_downloads_need_network_and_how_to_add_a_file(tmp_path, hub):
    """What the Settings page shows above the catalog: offline (a hub nobody answers at), it says
    downloads cannot work and how to add a model by hand; online, where downloads go."""
    from gradio_app.context import AppContext
    from gradio_app.generation.models_zoo import HubStatus
    from gradio_app.ui.settings_tab import zoo_text

    ctx = AppContext.create(tmp_path / "data", load_model=False)
    ctx.hub = HubStatus(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    assert ctx.hub.check_now() is False
    offline = zoo_text(ctx)
    assert "cannot be reached from this machine" in offline and "need network access" in offline
    assert f"copy a `.gguf` file into `{ctx.paths.models}`" in offline and "Model file" in offline
    assert all(m.name in offline for m in CATALOG)  # the list is still there to read
    ctx.hub = HubStatus(hub.url, timeout_s=5)
    assert ctx.hub.check_now() is True
    assert f"Downloads come from {hub.url}" in zoo_text(ctx)
