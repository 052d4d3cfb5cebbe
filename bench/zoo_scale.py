"""Zoo scale: scanning the 265-personality fixture zoo, and a generated zoo of 2,000 personalities.

The scan is what the app does at start and on refresh (`Zoo(roots).scan()`: walk the folders, parse
and validate every config.yaml). The generated zoo copies the fixture configs round-robin into
2,000 folders over 40 categories and 2 languages (real content, real YAML). Targets: the fixture
zoo in <= 0.5 s and 2,000 personalities in <= 3 s (per personality no slower than 1.5 x the
fixture zoo's), so a big user zoo never makes the app start or the Zoo tab feel slow.

    python bench/zoo_scale.py [--reps 3] [--count 2000]
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import common

TARGET_FIXTURE_S = 0.5
TARGET_LARGE_S = 3.0
TARGET_PER_ITEM_GROWTH = 1.5


def generate_zoo(root: Path, count: int) -> Path:
    configs = sorted(common.FIXTURE_ZOO.rglob("config.yaml"))
    if not configs:
        raise RuntimeError(f"no fixture personalities under {common.FIXTURE_ZOO}")
    for i in range(count):
        language = ("english", "french")[i % 2]
        folder = root / language / f"category{i % 40:02d}" / f"personality{i:04d}"
        folder.mkdir(parents=True)
        shutil.copyfile(configs[i % len(configs)], folder / "config.yaml")
    return root


def scan(root: Path) -> tuple[float, int, int]:
    from gradio_app.personalities.zoo import Zoo

    start = time.perf_counter()
    zoo = Zoo([root])
    elapsed = time.perf_counter() - start
    return elapsed, len(zoo.entries), len(zoo.errors())


def main() -> None:
    parser = common.arg_parser(__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    machine = common.Machine.now()
    result = common.BenchResult("zoo_scale")
    import gradio_app.personalities.zoo  # noqa: F401  (import time is not scan time)

    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        large = generate_zoo(Path(tmp), args.count)
        scan(common.FIXTURE_ZOO)  # warm the page cache for both
        samples = common.interleave(
            args.reps, {"fixture": lambda _r: scan(common.FIXTURE_ZOO), "large": lambda _r: scan(large)}
        )
    fixture_s = common.median(s[0] for s in samples["fixture"])
    large_s = common.median(s[0] for s in samples["large"])
    n_fixture, errors_fixture = samples["fixture"][0][1:]
    n_large, errors_large = samples["large"][0][1:]
    per_fixture = fixture_s / max(1, n_fixture)
    per_large = large_s / max(1, n_large)
    growth = common.ratio(per_large, per_fixture)
    print(
        f"fixture zoo: {n_fixture} personalities ({errors_fixture} broken, listed with their errors) in "
        f"{fixture_s * 1000:.0f} ms ({per_fixture * 1e6:.0f} µs each)"
    )
    print(
        f"generated zoo: {n_large} personalities ({errors_large} broken) in {large_s * 1000:.0f} ms "
        f"({per_large * 1e6:.0f} µs each, x{growth:.2f} per personality)"
    )
    result.check(f"scan of the {n_fixture}-personality fixture zoo", fixture_s, "<=", TARGET_FIXTURE_S, unit=" s")
    result.check(f"scan of {n_large} generated personalities", large_s, "<=", TARGET_LARGE_S, unit=" s")
    result.check("time per personality, large / fixture", growth, "<=", TARGET_PER_ITEM_GROWTH)
    result.figures = {
        "fixture_s": fixture_s,
        "large_s": large_s,
        "fixture_count": n_fixture,
        "large_count": n_large,
        "fixture_errors": errors_fixture,
        "large_errors": errors_large,
    }
    result.notes.extend(args.note)
    summary = (
        f"reps {args.reps}: fixture {n_fixture} in {fixture_s * 1000:.0f} ms; generated {n_large} in "
        f"{large_s * 1000:.0f} ms ({per_large * 1e6:.0f} µs each, x{growth:.2f} vs fixture)"
    )
    common.finish(result, machine, summary, record=not args.no_record)


if __name__ == "__main__":
    main()
