"""Install lifecycle of a personality: requirements, install script, and the `.install` marker.

A personality that ships `requirements.txt` or `scripts/install.py` is installed the first time the
user selects it: its requirements are pip-installed into the running environment
(`sys.executable -m pip install -r requirements.txt`), then its install script runs in a
subprocess (cwd = the personality folder), each with a timeout. Only when every step succeeded is
the `.install` marker written (atomically); a failed install leaves no marker, so the next
selection retries. Deleting the marker by hand makes the next selection reinstall.

Installing runs code on this machine, so it only ever starts from an explicit user action and only
for a trusted personality (built in, or trusted by the user: see Personality.trusted).
The log of the last attempt is kept beside the marker (`.install.log`) so it survives a restart.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from gradio_app.fileio import atomic_write_text, atomic_write_yaml
from gradio_app.personalities.personality import INSTALL_MARKER, Personality

INSTALL_LOG = ".install.log"
REQUIREMENTS_FILE = "requirements.txt"
INSTALL_SCRIPT = Path("scripts") / "install.py"
UNINSTALL_SCRIPT = Path("scripts") / "uninstall.py"
PIP_TIMEOUT_S = 900.0
SCRIPT_TIMEOUT_S = 900.0
# A runaway script must not fill the memory with its output: keep the last MAX_LOG_CHARS.
MAX_LOG_CHARS = 200_000
MAX_LINE_CHARS = 2_000

InstallState = Literal["not_needed", "needed", "installed"]


class InstallRefused(RuntimeError):
    """The install may not start (the personality is not trusted, or nothing to install)."""


@dataclass(frozen=True)
class InstallStep:
    title: str
    command: list[str]
    timeout_s: float


@dataclass(frozen=True)
class StepStarted:
    index: int  # 1-based
    total: int
    title: str


@dataclass(frozen=True)
class LogLine:
    text: str


@dataclass(frozen=True)
class InstallFinished:
    ok: bool
    message: str
    log: str


InstallEvent = StepStarted | LogLine | InstallFinished


def install_state(personality: Personality) -> InstallState:
    if not has_install_steps(personality):
        return "not_needed"
    return "installed" if (personality.folder / INSTALL_MARKER).exists() else "needed"


def has_install_steps(personality: Personality) -> bool:
    folder = personality.folder
    return (folder / REQUIREMENTS_FILE).is_file() or (folder / INSTALL_SCRIPT).is_file()


def last_log(personality: Personality) -> str:
    try:
        return (personality.folder / INSTALL_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def untrusted_message(personality: Personality) -> str:
    return (
        f"'{personality.name}' has scripts that would run code on this machine "
        "(requirements to pip-install, an install script or a processor), and it did not ship with "
        "the app. Read its files, then press Trust on its card if you trust where it came from."
    )


@dataclass
class Installer:
    """Runs install steps. One install at a time for the whole app: pip must never run twice in
    parallel on the same environment."""

    python: str = field(default_factory=lambda: sys.executable)
    pip_timeout_s: float = PIP_TIMEOUT_S
    script_timeout_s: float = SCRIPT_TIMEOUT_S
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def steps(self, personality: Personality) -> list[InstallStep]:
        folder = personality.folder
        steps: list[InstallStep] = []
        if (folder / REQUIREMENTS_FILE).is_file():
            pip = [self.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
            steps.append(
                InstallStep(
                    f"pip install -r {REQUIREMENTS_FILE}",
                    [*pip, "--progress-bar", "off", "-r", REQUIREMENTS_FILE],
                    self.pip_timeout_s,
                )
            )
        if (folder / INSTALL_SCRIPT).is_file():
            steps.append(
                InstallStep(
                    f"python {INSTALL_SCRIPT.as_posix()}",
                    [self.python, "-u", str(INSTALL_SCRIPT)],
                    self.script_timeout_s,
                )
            )
        return steps

    def install(self, personality: Personality, cancel: threading.Event | None = None) -> Iterator[InstallEvent]:
        """Run every step, streaming their output; ends with one InstallFinished.

        Raises InstallRefused before anything runs when the personality is not trusted."""
        if not personality.trusted:
            raise InstallRefused(untrusted_message(personality))
        steps = self.steps(personality)
        if not steps:
            raise InstallRefused(f"'{personality.name}' has nothing to install.")
        marker = personality.folder / INSTALL_MARKER
        log = _Log()
        if not self._lock.acquire(blocking=False):
            yield LogLine(log.add("Waiting for another install to finish…"))
            self._lock.acquire()
        try:
            marker.unlink(missing_ok=True)  # a reinstall that fails must not leave the old marker
            yield LogLine(log.add(f"Installing {personality.name} ({personality.id}) in {personality.folder}"))
            for index, step in enumerate(steps, start=1):
                yield StepStarted(index, len(steps), step.title)
                yield LogLine(log.add(f"[{index}/{len(steps)}] $ {step.title}"))
                outcome: str | None = None
                with contextlib.closing(_run(step, personality.folder, cancel)) as output:
                    for item in output:
                        if isinstance(item, _Exit):
                            outcome = item.problem
                        else:
                            yield LogLine(log.add(item))
                if outcome is not None:
                    message = f"Install of {personality.name} failed: {step.title}: {outcome}"
                    yield LogLine(log.add(message))
                    self._save_log(personality, log)
                    yield InstallFinished(False, message, log.text())
                    return
            importlib.invalidate_caches()  # packages pip just added become importable
            atomic_write_yaml(
                marker,
                {
                    "installed_at": _dt.datetime.now().isoformat(timespec="seconds"),
                    "personality_version": personality.config.version,
                    "python": self.python,
                    "steps": [s.title for s in steps],
                },
            )
            message = f"{personality.name} is installed."
            yield LogLine(log.add(message))
            self._save_log(personality, log)
            yield InstallFinished(True, message, log.text())
        finally:
            self._lock.release()

    def uninstall(self, personality: Personality) -> str:
        """Remove the marker (the next selection reinstalls) and run `scripts/uninstall.py` if the
        personality has one and is trusted. Packages pip installed stay: other personalities or the
        app itself may use them."""
        marker = personality.folder / INSTALL_MARKER
        log = _Log()
        script = personality.folder / UNINSTALL_SCRIPT
        if script.is_file():
            if not personality.trusted:
                raise InstallRefused(untrusted_message(personality))
            step = InstallStep(
                f"python {UNINSTALL_SCRIPT.as_posix()}",
                [self.python, "-u", str(UNINSTALL_SCRIPT)],
                self.script_timeout_s,
            )
            log.add(f"$ {step.title}")
            with self._lock:
                for item in _run(step, personality.folder, None):
                    if isinstance(item, _Exit):
                        if item.problem:
                            self._save_log(personality, log)
                            raise InstallRefused(f"Uninstall of {personality.name} failed: {item.problem}")
                    else:
                        log.add(item)
            self._save_log(personality, log)
        marker.unlink(missing_ok=True)
        return f"{personality.name} is uninstalled: its next selection installs it again."

    @staticmethod
    def _save_log(personality: Personality, log: _Log) -> None:
        with contextlib.suppress(OSError):  # a read-only zoo still shows the log in the UI
            atomic_write_text(personality.folder / INSTALL_LOG, log.text() + "\n")


def read_marker(personality: Personality) -> dict[str, object]:
    try:
        data = yaml.safe_load((personality.folder / INSTALL_MARKER).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class _Log:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._chars = 0

    def add(self, line: str) -> str:
        line = line.rstrip("\r\n")
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …"
        self._lines.append(line)
        self._chars += len(line) + 1
        while self._chars > MAX_LOG_CHARS and len(self._lines) > 1:
            self._chars -= len(self._lines.pop(0)) + 1
        return line

    def text(self) -> str:
        return "\n".join(self._lines)


@dataclass(frozen=True)
class _Exit:
    problem: str | None  # None = success


def _run(step: InstallStep, cwd: Path, cancel: threading.Event | None) -> Iterator[str | _Exit]:
    """Run one step, yielding its output lines as they come, then an _Exit. The step runs in its
    own process group so a timeout or cancel also stops the processes it started."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PWEBUI_PERSONALITY_DIR": str(cwd)}
    try:
        proc = subprocess.Popen(
            step.command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
    except OSError as e:
        yield _Exit(f"cannot start: {e}")
        return
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + step.timeout_s
    problem: str | None = None
    finished_output = False
    try:
        while not finished_output:
            if cancel is not None and cancel.is_set():
                problem = "cancelled"
                break
            if time.monotonic() > deadline:
                problem = f"timed out after {step.timeout_s:g} s"
                break
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                finished_output = True
            else:
                yield line
    finally:
        if problem is not None or not finished_output:
            _kill(proc)
    code = proc.wait()
    reader.join(timeout=5)
    if problem is None and code != 0:
        problem = f"exited with status {code}"
    yield _Exit(problem)


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait()
