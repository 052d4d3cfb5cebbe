"""Shared fixtures: the real default model, the real fixture zoo, a launched app."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"
FIXTURE_ZOO = SHARED_FIXTURES / "pyaipersonality_zoo"


@pytest.fixture(scope="session")
def fixture_zoo() -> Path:
    if not FIXTURE_ZOO.is_dir():
        pytest.fail(f"the shared fixtures are missing: {FIXTURE_ZOO} (CI keeps ../shared beside the clone)")
    return FIXTURE_ZOO


@pytest.fixture(scope="session")
def model_path() -> Path:
    from gradio_app.generation.default_model import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def service(model_path: Path):
    """One real SmolLM2 model for the whole run (loading is cheap, but not free)."""
    from gradio_app.generation.bindings.base import LoadOptions
    from gradio_app.generation.service import GenerationService

    svc = GenerationService()
    svc.load(model_path, LoadOptions(n_ctx=2048))
    yield svc
    svc.unload()


_FACTS_LINE = re.compile(r"\n\n<sub>[^<]*</sub>$")


def chat_texts(chat: list[dict]) -> list[tuple[str, str]]:
    """(role, text) of each chatbot message as gradio_client returns it, without the subtle
    per-answer facts line (tokens, speed, model) that the view appends."""
    out = []
    for m in chat:
        content = m["content"]
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
        out.append((m["role"], _FACTS_LINE.sub("", text)))
    return out


def facts_of(chat_message: dict) -> str:
    content = chat_message["content"]
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    found = re.search(r"<sub>([^<]*)</sub>$", text)
    return found.group(1) if found else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LaunchedApp:
    """`python app.py` in a subprocess on a free port, with its own data folder."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        wrapper: list[str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        """`wrapper`: a command the app runs under (e.g. `unshare -m ...` for a read-only mount);
        `log_dir`: where its log goes when the data folder cannot hold it."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.data_dir = data_dir
        self.log_path = (log_dir or data_dir) / "app.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w")
        cmd = [sys.executable, str(PROJECT_ROOT / "app.py"), "--port", str(self.port), "--data-dir", str(data_dir)]
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
        command = [*(wrapper or []), *cmd, *args]
        self.proc = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited early:\n{self.log()}")
            if "is running at" in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"app did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def launched_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApp]:
    app = LaunchedApp(tmp_path_factory.mktemp("app-data"))
    yield app
    app.stop()


class LlamaServer:
    """llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`) on a free
    port, serving the default model: the real thing our server binding talks to."""

    def __init__(self, model: Path, log_path: Path, n_ctx: int = 2048) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log_path = log_path
        self._log = log_path.open("w")
        # through the CPU guard: on a machine whose AMX faults, the server's model skips it too
        cmd = [sys.executable, "-m", "gradio_app.generation.cpu_guard", "llama_cpp.server"]
        cmd += ["--model", str(model), "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--n_ctx", str(n_ctx), "--n_threads", "2", "--verbose", "False"]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"llama_cpp.server did not start in {timeout}s")

    def kill(self) -> None:
        """Die the hard way (SIGKILL): what a crashed server looks like to its clients."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(model_path, tmp_path_factory.mktemp("llama-server") / "server.log")
    yield server
    server.stop()
