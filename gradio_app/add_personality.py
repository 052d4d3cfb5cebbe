"""add_personality: copy personalities from a source zoo into your zoo.

    python -m gradio_app.add_personality                       # asks for everything
    python -m gradio_app.add_personality --source ~/zoo        # then a language, a category, a personality
    python -m gradio_app.add_personality --source ~/zoo --language english --category generic --personality gpt4all
    python -m gradio_app.add_personality --source https://github.com/ParisNeo/PyAIPersonality --all

The source is a folder laid out as <language>/<category>/<name>/config.yaml (or a folder containing
one), or a git URL (cloned with --depth 1; needs the network). Personalities land in the user zoo
of the data folder (--data-dir, as for app.py). Existing ones are never overwritten without --force.
Copied scripts do not run until you trust the personality (its card in the zoo tab, or --trust).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from gradio_app.config import DataPaths
from gradio_app.hosting import host_defaults
from gradio_app.personalities.importers.errors import ImportRejected
from gradio_app.personalities.source_zoo import Copied, SourceError, copy_into, open_source
from gradio_app.personalities.zoo import Zoo, ZooEntry


class Abort(Exception):
    """Stop with this message (exit status 1)."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="add_personality",
        description="Copy personalities from a source zoo (a folder or a git URL) into your zoo.",
    )
    parser.add_argument("--source", help="source zoo: a folder, or a git URL (asked when missing)")
    parser.add_argument("--language", help="language folder in the source (asked when missing)")
    parser.add_argument("--category", help="category folder in the source (asked when missing)")
    parser.add_argument("--personality", help="personality: its folder name, its name, or language/category/name")
    parser.add_argument("--all", action="store_true", help="copy every personality (of --language/--category if given)")
    parser.add_argument("--force", action="store_true", help="overwrite personalities already in your zoo")
    parser.add_argument("--trust", action="store_true", help="trust the copied personalities (their scripts may run)")
    parser.add_argument("--list", action="store_true", help="list the source's personalities and stop")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=host_defaults().data_dir,
        metavar="DIR",
        help="the app's data folder, as for app.py (the user zoo is DIR/personalities)",
    )
    return parser.parse_args(argv)


class Prompter:
    """Numbered menus on a text stream (stdin in real use, a pipe in tests)."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self.stdin, self.stdout = stdin, stdout

    def ask(self, question: str) -> str:
        self.stdout.write(question)
        self.stdout.flush()
        line = self.stdin.readline()
        if not line:
            raise Abort("no answer (input closed); pass the choice as a flag to run without questions")
        return line.strip()

    def choose(self, title: str, options: list[tuple[str, str]]) -> str:
        """`options` = (value, label); the user types a number or a value. Returns the value."""
        if not options:
            raise Abort(f"nothing to choose from for {title.lower()}")
        self.stdout.write(f"\n{title}:\n")
        for i, (_, label) in enumerate(options, start=1):
            self.stdout.write(f"  {i:>3}) {label}\n")
        values = {v.lower(): v for v, _ in options}
        while True:
            answer = self.ask(f"Choose a {title.lower()} [1-{len(options)}]: ")
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return options[int(answer) - 1][0]
            if answer.lower() in values:
                return values[answer.lower()]
            if answer.lower() in ("q", "quit", "exit"):
                raise Abort("cancelled")
            self.stdout.write(f"Type a number between 1 and {len(options)} (or q to quit).\n")


def _label(entry: ZooEntry) -> str:
    if not entry.ok:
        return f"{entry.folder.name}  ⚠️ broken"
    text = entry.description.replace("\n", " ")
    text = text if len(text) <= 60 else text[:59] + "…"
    return f"{entry.name}" + (f" — {text}" if text else "")


def _pick_language(zoo: Zoo, wanted: str | None, prompter: Prompter) -> str:
    languages = zoo.languages()
    if wanted:
        if wanted not in languages:
            raise Abort(f"no language '{wanted}' in the source; it has: {', '.join(languages)}")
        return wanted
    return prompter.choose(
        "Language",
        [(lang, f"{lang} ({sum(1 for e in zoo.entries.values() if e.language == lang)})") for lang in languages],
    )


def _pick_category(zoo: Zoo, language: str, wanted: str | None, prompter: Prompter) -> str:
    categories = zoo.categories(language)
    if wanted:
        if wanted not in categories:
            raise Abort(f"no category '{wanted}' in {language}; it has: {', '.join(categories)}")
        return wanted
    return prompter.choose("Category", [(c, f"{c} ({len(zoo.in_category(language, c))})") for c in categories])


def _pick_personality(zoo: Zoo, language: str, category: str, wanted: str | None, prompter: Prompter) -> ZooEntry:
    entries = zoo.in_category(language, category)
    if wanted:
        folded = wanted.casefold()
        for entry in entries:
            if folded in (entry.folder.name.casefold(), entry.name.casefold(), entry.id.casefold()):
                return entry
        names = ", ".join(e.folder.name for e in entries)
        raise Abort(f"no personality '{wanted}' in {language}/{category}; it has: {names}")
    while True:
        pid = prompter.choose("Personality", [(e.id, _label(e)) for e in entries])
        entry = zoo.entries[pid]
        if entry.ok:
            return entry
        prompter.stdout.write(f"{entry.id} cannot be used: {entry.error}\n")


def _report(copied: Copied, trust: bool, out: TextIO) -> None:
    out.write(f"Added '{copied.name}' as {copied.personality_id} ({copied.folder})\n")
    if copied.skipped_links:
        out.write(f"  symbolic links were not copied: {', '.join(copied.skipped_links)}\n")
    if copied.has_scripts and not trust:
        out.write("  It has scripts: they run only after you trust it (its card in the zoo tab, or --trust).\n")


def _trust(copied: Copied) -> None:
    from gradio_app.personalities.personality import Personality

    Personality.load(copied.folder, copied.personality_id).trust()


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    prompter = Prompter(stdin, stdout)
    user_zoo = DataPaths(args.data_dir).user_zoo
    source = args.source or prompter.ask("Source zoo (a folder, or a git URL): ")
    if not source:
        raise Abort("no source given")
    if args.personality and "/" in args.personality and not (args.language or args.category):
        args.language, args.category, args.personality = args.personality.split("/", 2)
    stdout.write(f"Reading {source}…\n")
    with open_source(source) as zoo:
        broken = len(zoo.errors())
        stdout.write(
            f"{len(zoo.entries)} personalities in {zoo.roots[0]}" + (f" ({broken} broken)" if broken else "") + "\n"
        )
        if args.list:
            for entry in sorted(zoo.entries.values(), key=lambda e: e.id):
                stdout.write(f"{entry.id}" + ("" if entry.ok else f"  ⚠️ {entry.error}") + "\n")
            return 0
        if args.all:
            return _copy_all(zoo, args, user_zoo, stdout)
        language = _pick_language(zoo, args.language, prompter)
        category = _pick_category(zoo, language, args.category, prompter)
        entry = _pick_personality(zoo, language, category, args.personality, prompter)
        try:
            copied = copy_into(entry, user_zoo, force=args.force)
        except ImportRejected as e:
            raise Abort(str(e)) from e
        if args.trust:
            _trust(copied)
        _report(copied, args.trust, stdout)
    stdout.write("The app lists it after a Rescan in the Personalities Zoo tab (or at its next start).\n")
    return 0


def _copy_all(zoo: Zoo, args: argparse.Namespace, user_zoo: Path, out: TextIO) -> int:
    entries = sorted(zoo.entries.values(), key=lambda e: e.id)
    if args.language:
        entries = [e for e in entries if e.language == args.language]
    if args.category:
        entries = [e for e in entries if e.category == args.category]
    if not entries:
        raise Abort("no personality matches --language/--category in the source")
    added, refused, failed = 0, 0, 0
    for entry in entries:
        try:
            copied = copy_into(entry, user_zoo, force=args.force)
        except ImportRejected as e:
            exists = "already in your zoo" in str(e)
            refused += exists
            failed += not exists
            out.write(f"{'skipped' if exists else 'FAILED '} {entry.id}: {e}\n")
            continue
        if args.trust:
            _trust(copied)
        added += 1
        out.write(f"added   {copied.personality_id}\n")
    out.write(
        f"\n{added} added, {refused} already there (use --force to overwrite), {failed} failed, into {user_zoo}\n"
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args, sys.stdin, sys.stdout)
    except (Abort, SourceError) as e:
        print(f"add_personality: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output was piped into e.g. `head`
        return 0
    except KeyboardInterrupt:
        print("\nadd_personality: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
