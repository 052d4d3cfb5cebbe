"""add_personality against the 265-personality fixture zoo: flags, driven prompts, --all, git."""

import io
import os
import shutil
import subprocess
import sys

import pytest

from gradio_app.add_personality import parse_args, run
from gradio_app.personalities.zoo import Zoo
from tests.conftest import FIXTURE_ZOO, PROJECT_ROOT


def cli(*args, stdin="", script=False):
    command = (
        [str(PROJECT_ROOT / "scripts" / "add_personality.sh")]
        if script
        else [sys.executable, "-m", "gradio_app.add_personality"]
    )
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def source_zoo():
    return Zoo([FIXTURE_ZOO])


def same_personality(copied_folder, source_folder):
    assert (copied_folder / "config.yaml").read_bytes() == (source_folder / "config.yaml").read_bytes()
    for logo in (source_folder / "assets").glob("logo.*"):
        assert (copied_folder / "assets" / logo.name).read_bytes() == logo.read_bytes()


@pytest.mark.slow
def test_every_fixture_personality_installs_non_interactively(tmp_path, source_zoo):
    data = tmp_path / "data"
    for entry in sorted(source_zoo.entries.values(), key=lambda e: e.id):
        args = parse_args(
            ["--source", str(FIXTURE_ZOO), "--data-dir", str(data), "--language", entry.language,
             "--category", entry.category, "--personality", entry.folder.name]
        )  # fmt: skip
        out = io.StringIO()
        assert run(args, io.StringIO(""), out) == 0, out.getvalue()
        assert f"as {entry.id} " in out.getvalue()
    installed = Zoo([data / "personalities"])
    assert sorted(installed.entries) == sorted(source_zoo.entries)
    assert not installed.errors()


def menu_number(options, value):
    return str(options.index(value) + 1)


def test_interactive_prompts_driven_through_stdin(tmp_path, source_zoo):
    data = tmp_path / "data"
    # three picks: by numbers, by typed names, and after a wrong answer
    for pid in ("english/generic/gpt4all", "french/generic/gpt4all", "english/historic personalities/albert einstein"):
        language, category, folder = pid.split("/")
        lang_no = menu_number(source_zoo.languages(), language)
        cat_no = menu_number(source_zoo.categories(language), category)
        entries = [e.id for e in source_zoo.in_category(language, category)]
        answers = f"{FIXTURE_ZOO}\n{lang_no}\n{cat_no}\n{menu_number(entries, pid)}\n"
        if folder == "albert einstein":
            answers = f"{FIXTURE_ZOO}\n99\nenglish\n{category}\n{menu_number(entries, pid)}\n"
        done = cli("--data-dir", str(data), stdin=answers)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Source zoo (a folder, or a git URL): " in done.stdout
        assert "Choose a language [1-2]: " in done.stdout
        assert "Choose a category [1-" in done.stdout and "Choose a personality [1-" in done.stdout
        assert f"as {pid} " in done.stdout
        same_personality(
            data / "personalities" / language / category / folder, FIXTURE_ZOO / language / category / folder
        )
    assert "Type a number between 1 and 2" in done.stdout  # the wrong answer was asked again
    assert len(Zoo([data / "personalities"]).entries) == 3


def test_closed_input_stops_with_a_message(tmp_path):
    done = cli("--source", str(FIXTURE_ZOO), "--data-dir", str(tmp_path), stdin="1\n")
    assert done.returncode == 1
    assert "no answer (input closed)" in done.stderr


def test_flags_through_the_shell_script_and_no_overwrite_without_force(tmp_path):
    args = [
        "--source",
        str(FIXTURE_ZOO),
        "--data-dir",
        str(tmp_path),
        "--personality",
        "english/coding/python specialist",
    ]
    first = cli(*args, script=True)
    assert first.returncode == 0, first.stderr
    target = tmp_path / "personalities" / "english" / "coding" / "python specialist"
    (target / "config_local.yaml").write_text("mine: 1\n")
    again = cli(*args, script=True)
    assert again.returncode == 1 and "already in your zoo" in again.stderr and "--force" in again.stderr
    assert (target / "config_local.yaml").read_text() == "mine: 1\n"  # untouched
    forced = cli(*args, "--force", script=True)
    assert forced.returncode == 0
    assert not (target / "config_local.yaml").exists()


def test_unknown_names_list_what_exists(tmp_path):
    done = cli("--source", str(FIXTURE_ZOO), "--data-dir", str(tmp_path), "--language", "klingon")
    assert done.returncode == 1 and "no language 'klingon'" in done.stderr and "english, french" in done.stderr


@pytest.mark.slow
def test_all_copies_every_fixture_personality_and_they_all_load(tmp_path, source_zoo):
    done = cli("--source", str(FIXTURE_ZOO), "--data-dir", str(tmp_path), "--all")
    assert done.returncode == 0, done.stderr
    assert "265 added, 0 already there" in done.stdout
    installed = Zoo([tmp_path / "personalities"])
    assert len(installed.entries) == 265 and not installed.errors()
    for pid, entry in installed.entries.items():
        assert entry.language == source_zoo.entries[pid].language
        assert entry.category == source_zoo.entries[pid].category
        assert entry.personality.config == source_zoo.entries[pid].personality.config
    rerun = cli("--source", str(FIXTURE_ZOO), "--data-dir", str(tmp_path), "--all", "--category", "generic")
    assert rerun.returncode == 0 and "0 added, 5 already there" in rerun.stdout


def make_source(root, with_scripts=False):
    for pid in ("english/generic/gpt4all", "french/generic/gpt4all"):
        shutil.copytree(FIXTURE_ZOO / pid, root / pid)
    broken = root / "english" / "generic" / "broken"
    broken.mkdir(parents=True)
    (broken / "config.yaml").write_text("name: Broken\nmodel_top_p: 7\n")
    if with_scripts:
        scripts = root / "english" / "generic" / "gpt4all" / "scripts"
        scripts.mkdir()
        (scripts / "install.py").write_text("print('hi')\n")
        (root / "english" / "generic" / "gpt4all" / ".trusted").write_text("from elsewhere\n")
        os.symlink("/etc/hostname", root / "english" / "generic" / "gpt4all" / "assets" / "leak.txt")


def test_copied_scripts_are_untrusted_links_and_markers_stay_behind(tmp_path):
    source = tmp_path / "source"
    make_source(source, with_scripts=True)
    done = cli(
        "--source", str(source), "--data-dir", str(tmp_path / "data"), "--personality", "english/generic/gpt4all"
    )
    assert done.returncode == 0, done.stderr
    assert "symbolic links were not copied: assets/leak.txt" in done.stdout
    assert "they run only after you trust it" in done.stdout
    zoo = Zoo([tmp_path / "data" / "personalities"])
    copied = zoo.get("english/generic/gpt4all")
    assert copied.has_scripts and not copied.trusted
    assert not (copied.folder / "assets" / "leak.txt").exists()
    trusted = cli("--source", str(source), "--data-dir", str(tmp_path / "data"), "--personality",
                  "english/generic/gpt4all", "--force", "--trust")  # fmt: skip
    assert trusted.returncode == 0
    assert zoo.get("english/generic/gpt4all").trusted


def test_a_broken_source_personality_is_refused_with_its_error(tmp_path):
    source = tmp_path / "source"
    make_source(source)
    done = cli("--source", str(source), "--data-dir", str(tmp_path / "data"), "--personality", "english/generic/broken")
    assert done.returncode == 1
    assert "model_top_p" in done.stderr and "outside" in done.stderr
    everything = cli("--source", str(source), "--data-dir", str(tmp_path / "data"), "--all")
    assert everything.returncode == 1
    assert "2 added, 0 already there (use --force to overwrite), 1 failed" in everything.stdout


def test_a_git_source_is_cloned(tmp_path):
    repo = tmp_path / "repo"
    make_source(repo / "personalities_zoo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "zoo"], check=True)
    done = cli(
        "--source", f"file://{repo}", "--data-dir", str(tmp_path / "data"), "--personality", "french/generic/gpt4all"
    )
    assert done.returncode == 0, done.stderr
    assert "3 personalities in" in done.stdout and "(1 broken)" in done.stdout
    same_personality(tmp_path / "data/personalities/french/generic/gpt4all", FIXTURE_ZOO / "french/generic/gpt4all")


def test_an_unreachable_git_url_says_what_to_do(tmp_path):
    done = cli("--source", "https://127.0.0.1:9/zoo.git", "--data-dir", str(tmp_path), "--all")
    assert done.returncode == 1
    assert "could not clone https://127.0.0.1:9/zoo.git" in done.stderr
    assert "pass its folder with --source" in done.stderr
