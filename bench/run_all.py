"""Run every benchmark, each in its own subprocess with a timeout, and print one summary table.

A bench that fails, crashes or times out is reported in the table (with the end of its output)
and the others still run. Every bench appends its own row to bench/RESULTS.md; this script adds
a `run_all` row with the totals. Sized to finish in under 10 minutes on the 2-core dev machine.

    python bench/run_all.py [--only engine_overhead,cold_start] [--threads N] [--note "..."] [--no-record]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...] = ()
    timeout_s: float = 180
    script: str = ""  # default: bench/<name>.py
    common_args: bool = True  # takes common.arg_parser's flags (--threads, --note, --no-record)

    @property
    def path(self) -> Path:
        return common.ROOT / "bench" / (self.script or f"{self.name}.py")


# The suite, in order. The arguments trade repetitions for time so the whole run fits 10 minutes.
BENCHES = [
    # the 2,048-token case once, without the informational raw generate() side: the three cases
    # with every side and 3 repetitions take 7 minutes on a 2-core Xeon VM (python bench/engine_overhead.py)
    Bench("engine_overhead", ("--reps", "3", "--long-reps", "1", "--no-raw"), timeout_s=240),
    Bench("e2e_streaming", ("--reps", "3"), timeout_s=150),
    Bench("multi_turn", ("--reps", "1"), timeout_s=150),
    Bench("cold_start", ("--reps", "2"), timeout_s=120),
    Bench("zoo_scale", ("--reps", "3"), timeout_s=90),
    Bench("history_scale", ("--reps", "4"), timeout_s=120),
    # A 1,000-message discussion opened, scrolled and streamed into in a real browser; export of 100.
    Bench("discussion_scale", ("--browser",), timeout_s=180),
    Bench("concurrency", ("--reps", "2"), timeout_s=150),
    Bench("memory", ("--turns", "100", "--n-predict", "12"), timeout_s=240),
]


@dataclass
class Outcome:
    bench: Bench
    status: str  # "ok" | "failed" | "timeout" | "missing"
    seconds: float = 0.0
    payload: dict[str, Any] | None = None
    tail: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)


def run(bench: Bench, passthrough: list[str]) -> Outcome:
    if not bench.path.exists():
        return Outcome(bench, "missing")
    cmd = [sys.executable, str(bench.path), *bench.args, *(passthrough if bench.common_args else [])]
    print(f"\n### {bench.name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    # Its own process group: on a timeout the bench and the app it launched go down together.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=common.ROOT, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=bench.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
        print(stdout, stderr[-1500:], flush=True)
        return Outcome(bench, "timeout", time.perf_counter() - start, tail=(stdout or "")[-1500:])
    seconds = time.perf_counter() - start
    payload = None
    for line in stdout.splitlines():
        if line.startswith(common.JSON_MARK):
            try:
                payload = json.loads(line[len(common.JSON_MARK) :])
            except json.JSONDecodeError:
                payload = None
    shown = "\n".join(line for line in stdout.splitlines() if not line.startswith(common.JSON_MARK))
    print(shown, flush=True)
    if proc.returncode != 0:
        tail = (stdout[-800:] + "\n" + stderr[-1500:]).strip()
        print(tail, flush=True)
        return Outcome(bench, "failed", seconds, payload, tail)
    checks = payload["checks"] if payload else []
    return Outcome(bench, "ok", seconds, payload, checks=checks)


def summary_table(outcomes: list[Outcome]) -> list[str]:
    rows = [f"{'bench':17s} {'check':58s} {'value':>10s}  {'target':>12s}  result", "-" * 112]
    for o in outcomes:
        if o.status == "missing":
            rows.append(f"{o.bench.name:17s} {'(not in this tree: skipped)':58s}")
            continue
        if o.status != "ok":
            why = f"{o.status.upper()} after {o.seconds:.0f} s (see its output above)"
            rows.append(f"{o.bench.name:17s} {why:58s} {'':>10s}  {'':>12s}  NOT met")
            continue
        if not o.checks:
            rows.append(f"{o.bench.name:17s} {'ran (no target reported)':58s} {'':>10s}  {'':>12s}  ok")
        for c in o.checks:
            value = common.fmt(c["value"]) + c.get("unit", "")
            target = "" if c["informational"] else f"{c['op']} {common.fmt(c['target'])}{c.get('unit', '')}"
            met = {True: "met", False: "NOT met", None: "info"}[c["met"]]
            rows.append(f"{o.bench.name:17s} {c['name'][:58]:58s} {value:>10s}  {target:>12s}  {met}")
    return rows


def main() -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated bench names (default: all)")
    args = parser.parse_args()
    machine = common.Machine.now()
    passthrough: list[str] = []
    if args.threads:
        passthrough += ["--threads", str(args.threads)]
    for note in args.note:
        passthrough += ["--note", note]
    if args.no_record:
        passthrough.append("--no-record")
    wanted = {n for n in args.only.split(",") if n}
    start = time.perf_counter()
    outcomes = [run(b, passthrough) for b in BENCHES if not wanted or b.name in wanted]
    total = time.perf_counter() - start

    print(f"\n== Summary ({machine.describe()}), {total / 60:.1f} min in all")
    for line in summary_table(outcomes):
        print(line)
    for o in outcomes:
        print(f"  {o.bench.name}: {o.status}, {o.seconds:.0f} s")
    checks = [c for o in outcomes for c in o.checks if c["met"] is not None]
    met = sum(1 for c in checks if c["met"])
    broken = [o.bench.name for o in outcomes if o.status in ("failed", "timeout")]
    not_met = [f"{o.bench.name}: {c['name']}" for o in outcomes for c in o.checks if c["met"] is False]
    print(f"{met}/{len(checks)} targets met; benches failed: {broken or 'none'}; total {total:.0f} s (budget 600 s)")

    result = common.BenchResult("run_all")
    result.check("total time", total, "<=", 600, unit=" s")
    result.notes.extend(args.note)
    figures = f"{met}/{len(checks)} targets met in {total:.0f} s"
    if not_met:
        figures += "; not met: " + "; ".join(not_met)
    if broken:
        figures += "; benches failed: " + ", ".join(broken)
    skipped = [o.bench.name for o in outcomes if o.status == "missing"]
    if skipped:
        figures += "; not in this tree: " + ", ".join(skipped)
    common.finish(result, machine, figures, record=not args.no_record)


if __name__ == "__main__":
    main()
