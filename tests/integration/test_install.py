"""The install lifecycle with real subprocesses: install scripts, pip, the .install marker."""

import base64
import hashlib
import threading
import time
import zipfile

import pytest
import yaml

from gradio_app.personalities.install import (
    INSTALL_LOG,
    Installer,
    InstallFinished,
    InstallRefused,
    LogLine,
    StepStarted,
    install_state,
    read_marker,
)
from gradio_app.personalities.personality import INSTALL_MARKER, Personality


def make_personality(root, *, install_py=None, requirements=None, uninstall_py=None, builtin=True):
    folder = root / "english" / "tools" / "installer_test"
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"name": "Installer test", "version": "1.2.3"}))
    if install_py is not None:
        (folder / "scripts" / "install.py").write_text(install_py)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    if uninstall_py is not None:
        (folder / "scripts" / "uninstall.py").write_text(uninstall_py)
    return Personality.load(folder, "english/tools/installer_test", builtin=builtin)


def run(installer, personality, cancel=None):
    events = list(installer.install(personality, cancel))
    assert isinstance(events[-1], InstallFinished)
    return events, events[-1]


FAILING = (
    "import sys\nprint('fetching the weights')\nprint('no such file: weights.bin', file=sys.stderr)\nsys.exit(3)\n"
)
FIXED = "from pathlib import Path\nprint('fetching the weights')\nPath('weights.bin').write_text('ok')\n"


def test_a_failing_install_script_shows_the_error_leaves_no_marker_and_works_once_fixed(tmp_path):
    personality = make_personality(tmp_path, install_py=FAILING)
    assert personality.needs_install and install_state(personality) == "needed"
    events, finished = run(Installer(), personality)
    assert not finished.ok
    assert "exited with status 3" in finished.message
    assert "no such file: weights.bin" in finished.log  # stderr is in the log
    assert [e for e in events if isinstance(e, StepStarted)] == [StepStarted(1, 1, "python scripts/install.py")]
    assert not (personality.folder / INSTALL_MARKER).exists()
    assert "no such file" in (personality.folder / INSTALL_LOG).read_text()
    assert personality.needs_install  # the next selection retries

    (personality.folder / "scripts" / "install.py").write_text(FIXED)
    events, finished = run(Installer(), personality)
    assert finished.ok, finished.log
    assert "fetching the weights" in [e.text for e in events if isinstance(e, LogLine)]
    assert (personality.folder / "weights.bin").read_text() == "ok"  # ran with cwd = the folder
    assert install_state(personality) == "installed"
    assert read_marker(personality)["personality_version"] == "1.2.3"

    # deleting the marker makes the next selection reinstall
    (personality.folder / INSTALL_MARKER).unlink()
    assert personality.needs_install
    assert run(Installer(), personality)[1].ok


def test_a_reinstall_that_fails_removes_the_old_marker(tmp_path):
    personality = make_personality(tmp_path, install_py=FIXED)
    assert run(Installer(), personality)[1].ok
    (personality.folder / "scripts" / "install.py").write_text(FAILING)
    assert not run(Installer(), personality)[1].ok
    assert personality.needs_install


def test_untrusted_personalities_never_install_until_trusted(tmp_path):
    personality = make_personality(tmp_path, install_py=FIXED, builtin=False)
    with pytest.raises(InstallRefused, match="Trust"):
        next(Installer().install(personality))
    assert not (personality.folder / "weights.bin").exists()
    personality.trust()
    assert run(Installer(), personality)[1].ok


def test_a_hanging_script_is_stopped_by_its_timeout(tmp_path):
    personality = make_personality(tmp_path, install_py="import time\nprint('starting', flush=True)\ntime.sleep(120)\n")
    started = time.monotonic()
    _, finished = run(Installer(script_timeout_s=1.5), personality)
    assert time.monotonic() - started < 30
    assert not finished.ok and "timed out after 1.5 s" in finished.message
    assert "starting" in finished.log
    assert personality.needs_install


def test_cancel_stops_the_install(tmp_path):
    personality = make_personality(tmp_path, install_py="import time\nprint('starting', flush=True)\ntime.sleep(120)\n")
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    _, finished = run(Installer(), personality, cancel)
    assert not finished.ok and "cancelled" in finished.message


def test_uninstall_removes_the_marker_and_runs_the_uninstall_script(tmp_path):
    personality = make_personality(
        tmp_path, install_py=FIXED, uninstall_py="from pathlib import Path\nPath('weights.bin').unlink()\n"
    )
    assert run(Installer(), personality)[1].ok
    message = Installer().uninstall(personality)
    assert "uninstalled" in message
    assert not (personality.folder / "weights.bin").exists()
    assert personality.needs_install


def build_wheel(folder, name="pwebui_tinypkg", version="0.1"):
    """A minimal, valid pure-Python wheel, written by hand (no build backend, no network)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


def test_requirements_are_pip_installed_from_a_local_package_dir(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels)
    # pip reads PIP_TARGET from the environment: the package lands there, not in the shared venv.
    target = tmp_path / "site"
    monkeypatch.setenv("PIP_TARGET", str(target))
    personality = make_personality(
        tmp_path, requirements=f"--no-index\n--find-links {wheels}\npwebui_tinypkg==0.1\n", install_py=FIXED
    )
    events, finished = run(Installer(), personality)
    assert finished.ok, finished.log
    titles = [e.title for e in events if isinstance(e, StepStarted)]
    assert titles == ["pip install -r requirements.txt", "python scripts/install.py"]
    assert "Successfully installed pwebui_tinypkg-0.1" in finished.log
    assert (target / "pwebui_tinypkg" / "__init__.py").read_text() == "VALUE = 42\n"
    assert install_state(personality) == "installed"


def test_a_missing_requirement_fails_with_pips_message(tmp_path):
    personality = make_personality(tmp_path, requirements=f"--no-index\n--find-links {tmp_path}\nno_such_pkg_xyz\n")
    _, finished = run(Installer(), personality)
    assert not finished.ok
    assert "pip install -r requirements.txt" in finished.message
    assert "no_such_pkg_xyz" in finished.log
    assert personality.needs_install


def test_selecting_a_personality_installs_it_first_and_switches_only_when_that_worked(tmp_path):
    """AppContext.select_personality: the rule behind the zoo's Apply, checked without a page."""
    from gradio_app.context import AppContext

    ctx = AppContext.create(tmp_path / "data", load_model=False, zoo_roots=[tmp_path / "zoo"])
    personality = make_personality(tmp_path / "zoo", install_py=FAILING)
    (personality.folder / ".trusted").write_text("trusted by the test\n")
    ctx.zoo.rescan()
    (folder,) = [e for e in ctx.zoo.entries.values() if e.id == personality.id]
    assert folder.ok
    session = ctx.new_session()
    before = session.personality_id
    stopped = []
    events = list(ctx.select_personality(session, personality.id, before_switch=lambda: stopped.append(1)))
    assert isinstance(events[-1], InstallFinished) and not events[-1].ok
    assert session.personality_id == before and not stopped  # a failed install switches nothing
    (personality.folder / "scripts" / "install.py").write_text(FIXED)
    events = list(ctx.select_personality(session, personality.id, before_switch=lambda: stopped.append(1)))
    assert isinstance(events[-1], InstallFinished) and events[-1].ok
    assert session.personality_id == personality.id and stopped == [1]
    assert list(ctx.select_personality(session, personality.id)) == []  # installed: a plain switch
