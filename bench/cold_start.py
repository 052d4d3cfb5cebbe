"""Cold start: process start to the first HTTP 200 of the app, vs a bare Gradio "hello" Blocks app.

Each repetition starts `python app.py` on a fresh data folder (the first start a user sees: the
embedded model loaded, the zoo scanned, every tab built) and `python bench/hello_app.py`, in
alternating order, and times Popen -> the first 200 on "/". Target: app <= 1.5 x hello.
(That no heavy library is imported at start is asserted by tests/integration/test_startup.py.)

    python bench/cold_start.py [--reps 3] [--threads N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common

TARGET = 1.5


def time_app(threads: int | None) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        app = common.LaunchedApp(Path(tmp), threads=threads, bench_personality=False)
        try:
            app.wait_ready()
            return time.perf_counter() - app.started
        finally:
            app.stop()


def time_hello() -> float:
    port = common.free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(common.ROOT / "bench" / "hello_app.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        common.wait_http_200(f"http://127.0.0.1:{port}/", proc, timeout=120)
        return time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("cold_start")
    time_hello()  # warm the page cache for both (gradio's files); not counted
    samples = common.interleave(args.reps, {"app": lambda _r: time_app(args.threads), "hello": lambda _r: time_hello()})
    app_s, hello_s = common.median(samples["app"]), common.median(samples["hello"])
    r = common.ratio(app_s, hello_s)
    print(
        f"app {app_s:.2f} s, hello {hello_s:.2f} s, ratio {r:.2f}  "
        f"(samples app {samples['app']}, hello {samples['hello']})"
    )
    result.check("app / hello Blocks: start to first HTTP 200", r, "<=", TARGET)
    result.figures = {"app_s": app_s, "hello_s": hello_s, "samples": samples}
    result.notes.extend(args.note)
    summary = f"reps {args.reps}: app {app_s:.2f} s, hello Blocks {hello_s:.2f} s, ratio {r:.2f}"
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
