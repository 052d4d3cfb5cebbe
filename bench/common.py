"""What every benchmark shares: machine facts, interleaved timing, medians, the RESULTS.md row,
launching the app, and the machine-readable line that run_all.py reads.

Benchmarks are plain scripts (`python bench/<name>.py`), so this module also puts the project root
on sys.path for them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A bench stopped by run_all's timeout (SIGTERM) still runs its `finally` blocks: the app it
# launched is stopped too.
signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))

RESULTS = ROOT / "bench" / "RESULTS.md"
FIXTURE_ZOO = ROOT.parent / "shared" / "fixtures" / "pyaipersonality_zoo"
JSON_MARK = "BENCH-JSON "
# The machine counts as busy when its 1-minute load, taken before the bench starts, is above this
# share of its cores (other people's tests running): figures are noisier then, ratios less so.
BUSY_LOAD_SHARE = 0.5


# -- machine ------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu: str
    load_at_start: float

    @classmethod
    def now(cls) -> Machine:
        return cls(os.cpu_count() or 1, cpu_model(), load_average())

    @property
    def busy(self) -> bool:
        return self.load_at_start > self.cores * BUSY_LOAD_SHARE

    def describe(self) -> str:
        state = "busy machine" if self.busy else "quiet machine"
        return f"{self.cores} cores, {self.cpu}, load {self.load_at_start:.1f} at start ({state})"


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process (VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


# -- statistics -----------------------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    values = [v for v in values if v == v]  # drop NaN
    return statistics.median(values) if values else float("nan")


def interleave(reps: int, sides: dict[str, Callable[[int], Any]]) -> dict[str, list[Any]]:
    """Run every side once per repetition, alternating the order (ABAB, then BABA...), so drift in
    the machine's load lands on every side alike and cancels in their ratio."""
    samples: dict[str, list[Any]] = {name: [] for name in sides}
    names = list(sides)
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(sides[name](rep))
    return samples


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# -- results ----------------------------------------------------------------------------------------
@dataclass
class Check:
    """One target: `value` compared with `target` (`op` is '>=' or '<=')."""

    name: str
    value: float
    op: str
    target: float
    unit: str = ""
    informational: bool = False  # shown, but not a pass/fail target

    @property
    def met(self) -> bool | None:
        if self.informational:
            return None
        if self.value != self.value:  # NaN: not measured
            return False
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def show(self) -> str:
        mark = {True: "met", False: "NOT met", None: "info"}[self.met]
        target = f" (target {self.op} {fmt(self.target)}{self.unit})" if not self.informational else ""
        return f"{self.name} = {fmt(self.value)}{self.unit}{target}: {mark}"


def fmt(value: float) -> str:
    if value != value:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


@dataclass
class BenchResult:
    bench: str
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def check(self, *args: Any, **kwargs: Any) -> Check:
        c = Check(*args, **kwargs)
        self.checks.append(c)
        return c


def command_line() -> str:
    args = [Path(sys.argv[0]).as_posix()]
    with contextlib.suppress(ValueError):
        args[0] = Path(sys.argv[0]).resolve().relative_to(ROOT).as_posix()
    return "python " + " ".join(shlex.quote(a) for a in [args[0], *sys.argv[1:]])


_HEADER = """# Benchmark results

Rows are appended by the scripts in `bench/` (see bench/README.md); newest last. Absolute figures
(tokens/s, ms) only compare within one machine and one load; the ratios are measured side by side
in one run (interleaved repetitions, medians) and are what we track. "busy machine" means other
people's test runs shared the 2 cores while the row was taken.

| date | bench | code | figures | targets | machine | command |
| --- | --- | --- | --- | --- | --- | --- |
"""


def append_row(result: BenchResult, machine: Machine, summary: str, results_file: Path = RESULTS) -> None:
    if not results_file.exists():
        results_file.write_text(_HEADER, encoding="utf-8")
    met = [c.met for c in result.checks if c.met is not None]
    targets = f"{sum(met)}/{len(met)} met" if met else "no target"
    failed = [c.name for c in result.checks if c.met is False]
    if failed:
        targets += " (not met: " + ", ".join(failed) + ")"
    notes = "; ".join(result.notes)
    figures = summary + (f" — {notes}" if notes else "")
    date = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cells = [date, result.bench, git_commit(), figures, targets, machine.describe(), f"`{command_line()}`"]
    row = "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |\n"
    with results_file.open("a", encoding="utf-8") as f:
        f.write(row)


def finish(result: BenchResult, machine: Machine, summary: str, *, record: bool = True) -> None:
    """Print the figures, append the RESULTS.md row, and emit the line run_all.py parses."""
    print(f"\n== {result.bench} ({machine.describe()})")
    print(summary)
    for note in result.notes:
        print(f"note: {note}")
    for c in result.checks:
        print(f"  {c.show()}")
    if record:
        append_row(result, machine, summary)
    payload = {
        "bench": result.bench,
        "checks": [{**asdict(c), "met": c.met} for c in result.checks],
        "figures": result.figures,
        "notes": result.notes,
        "summary": summary,
    }
    print(JSON_MARK + json.dumps(payload, default=str), flush=True)


def arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads on every side (default: every core, as the app)"
    )
    parser.add_argument("--no-record", action="store_true", help="do not append a row to bench/RESULTS.md")
    parser.add_argument("--note", action="append", default=[], help="a note for the RESULTS.md row (repeatable)")
    return parser


# -- the model ---------------------------------------------------------------------------------------
def model_path() -> Path:
    from gradio_app.generation.default_model import default_model_path

    return default_model_path()


def bare_llama(n_ctx: int, threads: int | None) -> Any:
    """A bare llama-cpp-python model, loaded the way the app's binding loads it."""
    from gradio_app.generation.cpu_guard import open_llama

    n = threads or os.cpu_count() or 1
    return open_llama(model_path(), n_ctx=n_ctx, n_threads=n, n_threads_batch=n, n_batch=512, verbose=False)


BENCH_PERSONALITY = "english/bench/steady"


def write_bench_personality(
    zoo_root: Path, n_predict: int, conditioning: str | None = None, personality_id: str = BENCH_PERSONALITY
) -> Path:
    """A greedy personality for the benchmarks (its own sampling, so no settings API is needed)."""
    folder = zoo_root / personality_id
    folder.mkdir(parents=True, exist_ok=True)
    conditioning = conditioning or "You are a patient assistant. Answer every question in detail."
    lines = [
        "name: Steady",
        "author: bench",
        "version: 1.0.0",
        "language: english",
        "category: bench",
        "personality_description: A deterministic personality for benchmarks.",
        "personality_conditioning: " + json.dumps(conditioning),
        'welcome_message: "Ready."',
        'user_message_prefix: "### User:\\n"',
        'link_text: "\\n"',
        'ai_message_prefix: "### Assistant:\\n"',
        'anti_prompts: ["### User", "### Assistant", "User:"]',
        "include_welcome_message_in_discussion: false",
        "model_temperature: 0.0",
        f"model_n_predicts: {n_predict}",
        "model_top_k: 40",
        "model_top_p: 0.95",
        "model_repeat_penalty: 1.0",
        "model_repeat_last_n: 64",
    ]
    (folder / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


# -- the launched app ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_http_200(url: str, proc: subprocess.Popen[Any] | None, timeout: float, poll_s: float = 0.02) -> float:
    """Seconds until `url` answers 200 (raises if the process dies or time runs out)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process exited with code {proc.returncode} before answering")
        if http_ok(url, timeout=1.0):
            return time.perf_counter() - start
        time.sleep(poll_s)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


class LaunchedApp:
    """`python app.py` on a free port with its own data folder (and the bench personality)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        threads: int | None = None,
        n_predict: int = 128,
        default_personality: str = BENCH_PERSONALITY,
        bench_personality: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bench-app-")
            data_dir = Path(self._tmp.name)
        self.data_dir = data_dir
        settings = []
        if bench_personality:
            write_bench_personality(data_dir / "personalities", n_predict)
            settings.append(f"default_personality: {default_personality}")
        if threads:
            settings.append(f"n_threads: {threads}")  # the flat key every version of the file reads
        if settings:
            (data_dir / "settings.yaml").write_text("\n".join(settings) + "\n", encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = data_dir / "app.log"
        self._log = self.log_path.open("w")
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(self.port), "--data-dir", str(data_dir)]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*cmd, *extra_args], stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout: float = 180) -> float:
        try:
            return wait_http_200(self.url, self.proc, timeout)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n--- app log ---\n{self.log()}") from e

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LaunchedApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chat_texts(chat: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of each chatbot message as gradio_client returns them."""
    out = []
    for m in chat:
        content = m.get("content")
        if isinstance(content, list):
            text = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        else:
            text = content if isinstance(content, str) else ""
        out.append((m.get("role", ""), text))
    return out


def tokenizer() -> Callable[[str], int]:
    """Counts tokens of an answer as the default model sees them (its vocabulary only, no weights)."""
    from llama_cpp import Llama

    vocab = Llama(str(model_path()), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def kv_bytes_per_token(metadata: dict[str, str]) -> int:
    """Bytes of llama.cpp's f16 KV cache per context token, from the GGUF metadata."""
    arch = metadata.get("general.architecture", "llama")
    n_layer = int(metadata[f"{arch}.block_count"])
    n_embd = int(metadata[f"{arch}.embedding_length"])
    n_head = int(metadata[f"{arch}.attention.head_count"])
    n_head_kv = int(metadata.get(f"{arch}.attention.head_count_kv", n_head))
    return n_layer * 2 * (n_embd * n_head_kv // n_head) * 2
