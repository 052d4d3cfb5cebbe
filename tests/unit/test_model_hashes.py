"""FileHashes: a model file is hashed once per (path, size, mtime), in the background, and what an
answer's metadata says about its model (file facts only for a file, the hash only once known)."""

import hashlib
import json
import os
import threading

from gradio_app.generation.bindings.base import ModelInfo
from gradio_app.generation.model_files import FileHashes
from gradio_app.generation.service import GenerationResult, model_facts


def _file(tmp_path, data: bytes = b"GGUF" + b"x" * 100_000):
    path = tmp_path / "model.gguf"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_the_first_request_hashes_in_the_background_and_later_ones_know_at_once(tmp_path):
    path, digest = _file(tmp_path)
    hashes = FileHashes()
    got = threading.Event()
    seen: list[str] = []
    assert hashes.request(path, lambda d: (seen.append(d), got.set())) is None
    assert got.wait(10) and seen == [digest]
    assert hashes.request(path) == digest and hashes.known(path) == digest
    assert hashes.computed == 1


def test_concurrent_requests_read_the_file_once(tmp_path):
    path, digest = _file(tmp_path, b"y" * 5_000_000)
    hashes = FileHashes()
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(hashes.wait(path, 10))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [digest] * 4 and hashes.computed == 1


def test_a_changed_file_is_hashed_again(tmp_path):
    path, digest = _file(tmp_path)
    hashes = FileHashes()
    assert hashes.wait(path, 10) == digest
    path.write_bytes(b"GGUF changed")
    os.utime(path, ns=(1, 1))
    assert hashes.known(path) is None
    assert hashes.wait(path, 10) == hashlib.sha256(b"GGUF changed").hexdigest()
    assert hashes.computed == 2


def test_the_cache_file_spares_a_new_process_the_hash(tmp_path):
    path, digest = _file(tmp_path)
    cache = tmp_path / "data" / "model-hashes.json"
    assert FileHashes(cache).wait(path, 10) == digest
    assert json.loads(cache.read_text())[str(path.resolve())]["sha256"] == digest
    later = FileHashes(cache)
    assert later.request(path) == digest and later.computed == 0


def test_a_damaged_cache_file_is_ignored_and_a_missing_model_has_no_hash(tmp_path):
    path, digest = _file(tmp_path)
    cache = tmp_path / "model-hashes.json"
    cache.write_text("{not json", encoding="utf-8")
    hashes = FileHashes(cache)
    assert hashes.wait(path, 10) == digest
    assert json.loads(cache.read_text())  # rewritten whole
    assert hashes.request(tmp_path / "missing.gguf") is None


def _info(**kw) -> ModelInfo:
    base = dict(name="SmolLM2", path="/m/model.gguf", size_bytes=123, n_ctx=512, n_ctx_train=2048)
    base |= dict(chat_template=None, bos_token="", eos_token="", adds_bos=False, binding="llama_cpp")
    return ModelInfo(**(base | kw))


def test_model_facts_name_the_file_and_its_hash_only_when_known():
    assert model_facts(_info(file_sha256="abcdef012345")) == {
        "model": "SmolLM2",
        "binding": "llama_cpp",
        "model_file": "model.gguf",
        "model_size_bytes": 123,
        "model_sha256": "abcdef012345",
    }
    before = model_facts(_info())  # the hash is not computed yet
    assert before["model_file"] == "model.gguf" and before["model_size_bytes"] == 123
    assert "model_sha256" not in before
    server = _info(name="qwen2.5:0.5b", path="", binding="openai")  # a server: its model name only
    assert model_facts(server) == {"model": "qwen2.5:0.5b", "binding": "openai"}


def test_a_result_carries_the_same_facts():
    result = GenerationResult()
    result.set_model(_info(file_sha256="abcdef012345"))
    data = result.to_dict()
    assert data["model_file"] == "model.gguf" and data["model_sha256"] == "abcdef012345"
    result.set_model(_info(name="remote", path="", binding="openai"))
    data = result.to_dict()
    assert data["model"] == "remote" and not {"model_file", "model_size_bytes", "model_sha256"} & set(data)
