"""Concurrency: 8 simultaneous gradio_client users of one launched app (one in-process model).

Each user has its own Client (its own browser session and discussion) and submits /send a little
after the previous one (so the arrival order is known). One monitor thread watches every job's
streamed outputs and records when its answer first shows and when it ends.

Checks: every user gets a complete answer; the model serves them in arrival order (the
GenerationService queue is FIFO); aggregate tokens/s of the 8 (all answers' tokens over the
wall-clock time from the first submit to the last answer) vs one user alone, measured in the same
run (single and burst interleaved). Target: aggregate >= 0.90 x single (the model is shared, so
serving 8 must not cost more than their own tokens).

    python bench/concurrency.py [--users 8] [--reps 2] [--n-predict 64] [--threads N]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import common

TARGET = 0.90
STAGGER_S = 0.15


@dataclass
class UserRun:
    user: int
    submitted: float
    first_text: float = 0.0
    done: float = 0.0
    answer: str = ""
    error: str = ""


def question(user: int) -> str:
    topics = ["volcanoes", "bridges", "the moon", "bees", "rain", "trains", "glass", "maps", "clocks", "salt"]
    return f"I am user {user}. Tell me three facts about {topics[user % len(topics)]}."


def run_burst(clients: list, offset: int) -> list[UserRun]:
    """All users submit (staggered) while a monitor thread watches every job's outputs."""
    for client in clients:
        client.predict(api_name="/new_discussion")
    runs: list[UserRun] = []
    jobs: list = []
    lock = threading.Lock()
    submitting = True

    def monitor() -> None:
        pending: set[int] = set()
        while True:
            with lock:
                pending |= set(range(len(jobs))) - {r.user for r in runs if r.done}
                active = [(i, jobs[i], runs[i]) for i in sorted(pending)]
                more = submitting
            for i, job, run in active:
                outputs = job.outputs()
                if not run.first_text and outputs and answer_started(outputs[-1][0]):
                    run.first_text = time.perf_counter()
                if job.done():
                    run.done = time.perf_counter()
                    run.first_text = run.first_text or run.done
                    try:
                        run.answer = common.chat_texts(job.result()[0])[-1][1]
                    except Exception as e:  # the bench reports a failed user, it does not crash
                        run.error = str(e)
                    pending.discard(i)
            if not pending and not more:
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    for i, client in enumerate(clients):
        with lock:
            runs.append(UserRun(i, time.perf_counter()))
            jobs.append(client.submit(question(offset + i), api_name="/send"))
        time.sleep(STAGGER_S)
    with lock:
        submitting = False
    watcher.join()
    return runs


def answer_started(chat: list) -> bool:
    messages = common.chat_texts(chat)
    if len(messages) < 3 or messages[-1][0] != "assistant":
        return False
    return bool(messages[-1][1]) and "⏳" not in messages[-1][1]


def main() -> None:
    from gradio_client import Client

    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--n-predict", type=int, default=64)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("concurrency")
    count = common.tokenizer()

    with common.LaunchedApp(threads=args.threads, n_predict=args.n_predict) as app:
        app.wait_ready()
        clients = [Client(app.url, verbose=False) for _ in range(args.users)]
        bursts: list[list[UserRun]] = []
        singles: list[UserRun] = []

        def single(rep: int) -> None:
            singles.extend(run_burst(clients[:1], 100 + rep))

        def burst(rep: int) -> None:
            bursts.append(run_burst(clients, rep * args.users))

        single(-1)  # warm-up: the first answer also pays for the conditioning's evaluation
        singles.clear()
        common.interleave(args.reps, {"single": single, "burst": burst})
        log_tail = app.log()[-2000:]

    def tokens(run: UserRun) -> int:
        return count(run.answer) if run.answer else 0

    single_rates = [tokens(r) / (r.done - r.submitted) for r in singles if r.done > r.submitted]
    single_rate = common.median(single_rates)
    aggregate_rates, in_order, complete = [], [], []
    for runs in bursts:
        wall = max(r.done for r in runs) - min(r.submitted for r in runs)
        aggregate_rates.append(sum(tokens(r) for r in runs) / wall if wall > 0 else float("nan"))
        served = sorted(runs, key=lambda r: r.first_text or float("inf"))
        in_order.append([r.user for r in served] == list(range(len(runs))))
        t0 = min(r.submitted for r in runs)
        print(
            "burst: user submitted/first text/done (s): "
            + "  ".join(f"{r.user}:{r.submitted - t0:.2f}/{r.first_text - t0:.2f}/{r.done - t0:.2f}" for r in runs)
        )
        complete.append(sum(bool(r.answer) and not r.error for r in runs))
    aggregate = common.median(aggregate_rates)
    r = common.ratio(aggregate, single_rate)
    waits = [run.first_text - run.submitted for runs in bursts for run in runs if run.first_text]
    errors = [run.error for runs in bursts for run in runs if run.error]
    print(f"{args.users} users x {args.reps} bursts: complete {complete}, served in arrival order {in_order}")
    print(f"aggregate {aggregate:.1f} tok/s vs single user {single_rate:.1f} tok/s: ratio {r:.3f}")
    print(f"time to first text in a burst: median {common.median(waits):.2f} s, max {max(waits, default=0):.2f} s")
    if errors:
        print("errors:", errors[:3], "\n", log_tail)
    all_complete = min(complete, default=0) / args.users
    result.check(f"share of the {args.users} users answered in full", all_complete, ">=", 1.0)
    result.check("bursts served in arrival order", sum(in_order) / max(1, len(in_order)), ">=", 1.0)
    result.check(f"aggregate tok/s of {args.users} / single user", r, ">=", TARGET)
    result.figures = {
        "aggregate_tokens_per_s": aggregate,
        "single_tokens_per_s": single_rate,
        "complete": complete,
        "in_order": in_order,
        "max_wait_s": max(waits, default=0),
    }
    result.notes.extend(args.note)
    summary = (
        f"{args.users} users x {args.reps} bursts, n_predict {args.n_predict}: {min(complete, default=0)}/{args.users} "
        f"complete, arrival order kept {sum(in_order)}/{len(in_order)}; aggregate {aggregate:.0f} vs single "
        f"{single_rate:.0f} tok/s (x{r:.2f}); max wait for first text {max(waits, default=0):.1f} s"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
