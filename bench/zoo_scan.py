"""How long the zoo takes to scan: the 265-personality fixture zoo and 2,000 generated ones.

    python bench/zoo_scan.py [--fixture ../shared/fixtures/pyaipersonality_zoo] [--generated 2000]

Prints the first scan (every config.yaml parsed), a re-scan (nothing changed: cached entries are
reused, as after an install or an import) and a search, each the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradio_app.personalities.zoo import Zoo  # noqa: E402

CONFIG = """name: Generated {i}
author: bench
version: 1.0.0
language: {language}
category: {category}
personality_description: |
  Personality number {i}, generated to measure how the zoo scales. It explains things step by step.
personality_conditioning: |
  You are Generated {i}, a helpful assistant. Answer briefly and clearly.
welcome_message: Hello, I am number {i}.
user_message_prefix: "### User:\\n"
ai_message_prefix: "### Assistant:\\n"
anti_prompts: ["### User", "### Assistant"]
model_temperature: 0.6
model_n_predicts: 256
"""


def generate(root: Path, count: int) -> None:
    for i in range(count):
        language = ("english", "french", "german", "spanish")[i % 4]
        category = f"category_{i % 40:02d}"
        folder = root / language / category / f"personality_{i:05d}"
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(CONFIG.format(i=i, language=language, category=category))


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(label: str, root: Path, repeat: int) -> None:
    first = best_of(repeat, lambda: Zoo([root]))
    zoo = Zoo([root])
    rescan = best_of(repeat, zoo.rescan)
    search = best_of(repeat, lambda: zoo.search("step by step"))
    print(
        f"{label}: {len(zoo.entries)} personalities ({len(zoo.errors())} broken) | first scan {first * 1000:.0f} ms"
        f" | re-scan {rescan * 1000:.0f} ms | search {search * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fixture", type=Path, default=ROOT.parent / "shared" / "fixtures" / "pyaipersonality_zoo")
    parser.add_argument("--generated", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.fixture.is_dir():
        measure("fixture zoo", args.fixture, args.repeat)
    else:
        print(f"fixture zoo not found at {args.fixture}; skipped")
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), args.generated)
        measure("generated zoo", Path(tmp), args.repeat)


if __name__ == "__main__":
    main()
