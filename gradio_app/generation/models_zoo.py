"""The models zoo: a short list of GGUF models that run well on a CPU, and their download.

Downloads go to the data folder's models/ through a `.part` file: an interrupted transfer
resumes with an HTTP Range request, the SHA-256 is checked when we know it (pinned revisions
only: a checksum for a moving `main` would be a guess), the header must parse as GGUF, and only
then is the file renamed into place, so a half-written or corrupt file is never offered as a
model. Offline, nothing here blocks: the list explains how to add a file by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from gradio_app.generation.model_files import GGUFError, format_size, read_gguf_facts

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
_CHUNK = 1 << 20
_FREE_SPACE_MARGIN = 256 * 2**20
_PROGRESS_EVERY_S = 0.25
_HUB_STATUS_TTL_S = 300.0


@dataclass(frozen=True)
class ZooModel:
    """One downloadable model. `revision` is a commit when `sha256` is known (the checksum belongs
    to that exact file), else a branch."""

    id: str
    name: str
    parameters: str
    quantization: str
    size: str  # approximate, as the Hub shows it
    license: str
    repo: str
    file: str
    revision: str = "main"
    sha256: str = ""
    notes: str = ""

    def url(self, endpoint: str = DEFAULT_ENDPOINT) -> str:
        return f"{endpoint.rstrip('/')}/{self.repo}/resolve/{self.revision}/{self.file}"

    @property
    def page(self) -> str:
        return f"{DEFAULT_ENDPOINT}/{self.repo}"


# Sizes, revisions and checksums as the Hugging Face Hub lists them (Git LFS / Xet pointers).
CATALOG: tuple[ZooModel, ...] = (
    ZooModel(
        "smollm2-360m", "SmolLM2 360M Instruct", "360M", "Q4_K_M", "271 MB", "apache-2.0",
        "mradermacher/SmolLM2-360M-Instruct-GGUF", "SmolLM2-360M-Instruct.Q4_K_M.gguf",
        notes="Tiny and fast; a step up from the embedded 135M model.",
    ),
    ZooModel(
        "qwen2.5-0.5b", "Qwen2.5 0.5B Instruct", "0.5B", "Q4_K_M", "398 MB", "apache-2.0",
        "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
        notes="Multilingual, 32k context.",
    ),
    ZooModel(
        "llama-3.2-1b", "Llama 3.2 1B Instruct", "1.2B", "Q4_K_M", "808 MB",
        "llama3.2 (Llama 3.2 Community License)",
        "bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        revision="d52af3776f99ddf220e5ffd3f93b2a4e4df105be",
        sha256="6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83",
        notes="Good all-rounder; using it means accepting Meta's Llama 3.2 license.",
    ),
    ZooModel(
        "qwen2.5-1.5b", "Qwen2.5 1.5B Instruct", "1.5B", "Q4_K_M", "986 MB", "apache-2.0",
        "bartowski/Qwen2.5-1.5B-Instruct-GGUF", "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf",
        revision="85553858e3522ce5b531285b2202bdb40fab1624",
        sha256="50961d9b7d3b89e46be230528fc66d38bbdda8ac3748323dd34f129a714124fc",
        notes="Strong for its size; multilingual, code.",
    ),
    ZooModel(
        "smollm2-1.7b", "SmolLM2 1.7B Instruct", "1.7B", "Q4_K_M", "1.06 GB", "apache-2.0",
        "lmstudio-community/SmolLM2-1.7B-Instruct-GGUF", "SmolLM2-1.7B-Instruct-Q4_K_M.gguf",
        revision="8e3b7e27a6253ac83ae6e7e307baabafcb2d1c71",
        sha256="48db74b86a7e5f1d177f8efbf9929aa3e42bdb07bdc338c14a380a90cd98bde6",
        notes="The largest SmolLM2; English.",
    ),
    ZooModel(
        "phi-3.5-mini", "Phi-3.5 mini Instruct", "3.8B", "Q4_K_M", "2.39 GB", "MIT",
        "bartowski/Phi-3.5-mini-instruct-GGUF", "Phi-3.5-mini-instruct-Q4_K_M.gguf",
        revision="4cd0c5148e612aa078f250862a4bffe4a10f5d38",
        sha256="e4165e3a71af97f1b4820da61079826d8752a2088e313af0c7d346796c38eff5",
        notes="Reasoning and long context (128k); needs about 4 GB of RAM.",
    ),
)  # fmt: skip
CATALOG_BY_ID: dict[str, ZooModel] = {m.id: m for m in CATALOG}


def hub_endpoint(env: Mapping[str, str] | None = None) -> str:
    """The Hub to download from: HF_ENDPOINT (as huggingface_hub reads it; a mirror, or a test
    server), else huggingface.co."""
    env = os.environ if env is None else env
    return (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """HF_TOKEN, when set, for gated repositories (httpx drops it on redirects to other hosts)."""
    env = os.environ if env is None else env
    token = env.get("HF_TOKEN", "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


# -- downloading -----------------------------------------------------------------------------------


class DownloadError(RuntimeError):
    """The download failed; the message says why and what to do. Partial data is kept to resume
    unless the message says it was discarded."""


class DownloadCancelled(DownloadError):
    """The user cancelled; the .part file is kept so the next download resumes."""


class ChecksumMismatch(DownloadError):
    """The finished file is not the one expected; it was deleted, never offered as a model."""


@dataclass
class DownloadProgress:
    done: int = 0
    total: int | None = None
    resumed_from: int = 0
    phase: str = "starting"  # starting | checking the partial file | downloading | verifying | done
    started: float = field(default_factory=time.monotonic)

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None

    def describe(self) -> str:
        if self.phase != "downloading":
            return self.phase
        elapsed = max(time.monotonic() - self.started, 1e-6)
        speed = (self.done - self.resumed_from) / elapsed
        total = f" of {format_size(self.total)}" if self.total else ""
        resumed = f", resumed at {format_size(self.resumed_from)}" if self.resumed_from else ""
        return f"{format_size(self.done)}{total} ({format_size(int(speed))}/s{resumed})"


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str = "",
    headers: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> Path:
    """Download `url` to `dest` through `dest.part`, resuming what an earlier attempt left.

    On success `dest` is a complete, checksum-verified (when `sha256` is given) GGUF file.
    """
    cancel = cancel or threading.Event()
    progress = DownloadProgress()

    def report(current: DownloadProgress) -> None:
        if on_progress is not None:
            on_progress(replace(current))  # a snapshot: the caller may keep it

    part = part_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    hasher = hashlib.sha256()
    offset = part.stat().st_size if part.exists() else 0
    if offset:
        progress.phase = "checking the partial file"
        report(progress)
        _hash_file(part, hasher, cancel)
    request_headers = {**(headers or {}), "Accept-Encoding": "identity"}  # ranges count raw bytes
    if offset:
        request_headers["Range"] = f"bytes={offset}-"
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 15.0))
    try:
        with (
            httpx.Client(follow_redirects=True, timeout=timeout, transport=transport) as client,
            client.stream("GET", url, headers=request_headers) as response,
        ):
            if response.status_code == 416 and offset:
                # The server has nothing past our offset: the partial file is the whole file.
                progress.done = progress.total = offset
            else:
                mode = _check_response(response, offset, url)
                if mode == "wb":  # the server ignored our Range: start over
                    offset, hasher = 0, hashlib.sha256()
                progress.total = _total_size(response, offset)
                progress.done = progress.resumed_from = offset
                progress.started = time.monotonic()
                _check_free_space(dest.parent, (progress.total or 0) - offset)
                progress.phase = "downloading"
                report(progress)
                _receive(response, part, mode, hasher, progress, report, cancel)
    except httpx.ConnectError as e:
        raise DownloadError(
            f"Cannot reach {httpx.URL(url).host} ({e}). Downloads need network access; offline, copy a .gguf "
            "file into the models folder by hand."
        ) from e
    except httpx.TimeoutException as e:
        raise DownloadError(f"The download stalled ({e}). The partial file is kept: download again to resume.") from e
    except httpx.HTTPError as e:
        raise DownloadError(
            f"The download was interrupted ({e}). The partial file is kept: download again to resume."
        ) from e
    progress.phase = "verifying"
    report(progress)
    if progress.total is not None and part.stat().st_size != progress.total:
        raise DownloadError(
            f"The server sent {part.stat().st_size:,} of {progress.total:,} bytes. The partial file is kept: "
            "download again to resume."
        )
    if sha256 and hasher.hexdigest() != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{dest.name} does not match its published SHA-256 (got {hasher.hexdigest()[:16]}…, expected "
            f"{sha256[:16]}…). The file was deleted; it was damaged in transit or changed upstream."
        )
    try:
        read_gguf_facts(part)
    except GGUFError as e:
        part.unlink(missing_ok=True)
        raise DownloadError(f"The downloaded file is not a usable GGUF model ({e}); it was deleted.") from e
    _fsync(part)
    os.replace(part, dest)
    _fsync_dir(dest.parent)
    progress.phase = "done"
    report(progress)
    log.info("downloaded %s (%s)", dest, format_size(dest.stat().st_size))
    return dest


def _check_response(response: httpx.Response, offset: int, url: str) -> str:
    """'ab' to append to the partial file, 'wb' to start over; DownloadError otherwise."""
    status = response.status_code
    if status == 206 and offset:
        match = re.match(r"bytes (\d+)-", response.headers.get("content-range", ""))
        if not match or int(match.group(1)) != offset:
            raise DownloadError(f"The server resumed at the wrong place ({response.headers.get('content-range')}).")
        return "ab"
    if status == 200:
        return "wb"
    if status in (401, 403):
        raise DownloadError(
            f"The Hub refused the download (HTTP {status}): the repository may be gated. Accept its license "
            "on huggingface.co and set HF_TOKEN to an access token."
        )
    if status == 404:
        raise DownloadError(f"Not found on the Hub (HTTP 404): {url}. The file may have been renamed or removed.")
    raise DownloadError(f"The server answered HTTP {status} for {url}.")


def _total_size(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("content-length", "")
    if length.isdigit():
        return int(length) + (offset if response.status_code == 206 else 0)
    return None


def _check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > 0 and free < needed + _FREE_SPACE_MARGIN:
        raise DownloadError(
            f"Not enough disk space in {folder}: the download needs {format_size(needed)} and "
            f"{format_size(free)} is free."
        )


def _receive(
    response: httpx.Response,
    part: Path,
    mode: str,
    hasher: hashlib._Hash,
    progress: DownloadProgress,
    report: Callable[[DownloadProgress], None],
    cancel: threading.Event,
) -> None:
    last = 0.0
    with part.open(mode) as f:
        for chunk in response.iter_raw(_CHUNK):
            if cancel.is_set():
                raise DownloadCancelled("Download cancelled. The partial file is kept: download again to resume.")
            f.write(chunk)
            hasher.update(chunk)
            progress.done += len(chunk)
            now = time.monotonic()
            if now - last >= _PROGRESS_EVERY_S:
                last = now
                report(progress)
        f.flush()
    report(progress)


def _hash_file(path: Path, hasher: hashlib._Hash, cancel: threading.Event) -> None:
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK * 8):
            if cancel.is_set():
                raise DownloadCancelled("Download cancelled.")
            hasher.update(chunk)


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- downloads the UI can follow -------------------------------------------------------------------


@dataclass
class DownloadJob:
    """One download running in the background: pages can come and go, the transfer goes on."""

    model: ZooModel
    dest: Path
    progress: DownloadProgress = field(default_factory=DownloadProgress)
    cancel: threading.Event = field(default_factory=threading.Event)
    error: str = ""
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def ok(self) -> bool:
        return self.finished.is_set() and not self.error

    def describe(self) -> str:
        if self.error:
            return f"⚠️ {self.model.name}: {self.error}"
        if self.ok:
            return f"✅ {self.model.name} downloaded to `{self.dest}`. Choose it in the Model list and Apply."
        return f"⏬ {self.model.name}: {self.progress.describe()}"


class ModelDownloads:
    """Starts downloads of catalog models into the models folder, one at a time per file."""

    def __init__(self, models_dir: Path, env: Mapping[str, str] | None = None) -> None:
        self.models_dir = models_dir
        self._env = dict(os.environ if env is None else env)
        self._jobs: dict[str, DownloadJob] = {}
        self._lock = threading.Lock()

    def destination(self, model: ZooModel) -> Path:
        return self.models_dir / model.file

    def installed(self, model: ZooModel) -> bool:
        return self.destination(model).is_file()

    def partial_bytes(self, model: ZooModel) -> int:
        part = part_path(self.destination(model))
        return part.stat().st_size if part.exists() else 0

    def job(self, model_id: str) -> DownloadJob | None:
        with self._lock:
            return self._jobs.get(model_id)

    def start(self, model_id: str) -> DownloadJob:
        """Begin (or join, if it is already running) the download of a catalog model."""
        model = CATALOG_BY_ID.get(model_id)
        if model is None:
            raise DownloadError(f"No model '{model_id}' in the models zoo.")
        with self._lock:
            running = self._jobs.get(model_id)
            if running is not None and not running.finished.is_set():
                return running
            job = DownloadJob(model, self.destination(model))
            self._jobs[model_id] = job
        if self.installed(model):
            job.progress.phase = "done"
            job.finished.set()
            return job
        threading.Thread(target=self._run, args=(job,), name=f"download-{model_id}", daemon=True).start()
        return job

    def cancel(self, model_id: str) -> None:
        job = self.job(model_id)
        if job is not None:
            job.cancel.set()

    def _run(self, job: DownloadJob) -> None:
        def track(progress: DownloadProgress) -> None:
            job.progress = progress

        try:
            download_file(
                job.model.url(hub_endpoint(self._env)),
                job.dest,
                sha256=job.model.sha256,
                headers=hub_headers(self._env),
                cancel=job.cancel,
                on_progress=track,
            )
        except DownloadError as e:
            job.error = str(e)
            log.warning("download of %s failed: %s", job.model.id, e)
        except OSError as e:
            job.error = f"Cannot write to {job.dest.parent}: {e.strerror or e}"
            log.warning("download of %s failed: %s", job.model.id, e)
        finally:
            job.finished.set()


class HubStatus:
    """Whether the Hub answers, checked in the background (never blocking a page) and cached."""

    def __init__(self, endpoint: str, timeout_s: float = 4.0) -> None:
        self.endpoint = endpoint
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._online: bool | None = None
        self._detail = ""
        self._running = False

    @property
    def online(self) -> bool | None:
        """True / False once checked; None while the first check runs."""
        self.refresh()
        return self._online

    @property
    def detail(self) -> str:
        return self._detail

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            stale = time.monotonic() - self._checked_at > _HUB_STATUS_TTL_S
            if self._running or not (force or stale or self._online is None):
                return
            self._running = True
        threading.Thread(target=self._check, name="hub-status", daemon=True).start()

    def check_now(self) -> bool:
        self._check()
        return bool(self._online)

    def _check(self) -> None:
        try:
            response = httpx.head(self.endpoint, timeout=self._timeout, follow_redirects=True)
            online, detail = response.status_code < 500, f"HTTP {response.status_code}"
        except httpx.HTTPError as e:
            online, detail = False, str(e) or type(e).__name__
        with self._lock:
            self._online, self._detail = online, detail
            self._checked_at = time.monotonic()
            self._running = False
