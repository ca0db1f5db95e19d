"""scripts/venv.sh installs a requirements file only when its content (or an included
file's) changed since its install, and an install of a file counts for the files it
includes (`make test`'s requirements-dev.txt includes requirements.txt, so `make run`
afterwards installs nothing).

Run on a scratch copy whose .venv/bin/pip only records its calls: no network, and the
project's own .venv is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.servers import ROOT

pytestmark = pytest.mark.db_independent


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "venv.sh", tmp_path / "scripts" / "venv.sh")
    (tmp_path / "requirements.txt").write_text("django==5.2.19\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\npytest==9.2.0\n")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/pip.log\n')
    for tool in ("python", "pip"):
        (bin_dir / tool).chmod(0o755)
    return tmp_path


def _installs(scratch: Path, requirements: str) -> list[str]:
    """The `pip install -r` calls one run of the script made."""
    log = scratch / "pip.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", "scripts/venv.sh", requirements], cwd=scratch, check=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return [call.split()[-1] for call in calls if " -r " in f" {call}"]


def _edit(scratch: Path, name: str) -> None:
    """`name`'s content changes (a pin added)."""
    with (scratch / name).open("a") as file:
        file.write("packaging==26.0\n")


def test_the_dev_install_counts_for_the_runtime_requirements(scratch):
    assert _installs(scratch, "requirements-dev.txt") == ["requirements-dev.txt"]
    assert _installs(scratch, "requirements-dev.txt") == []
    assert _installs(scratch, "requirements.txt") == []


def test_a_changed_runtime_file_is_installed_again_by_either_command(scratch):
    _installs(scratch, "requirements-dev.txt")
    _edit(scratch, "requirements.txt")
    assert _installs(scratch, "requirements.txt") == ["requirements.txt"]
    assert _installs(scratch, "requirements.txt") == []
    # The dev file includes it: its install is stale too.
    assert _installs(scratch, "requirements-dev.txt") == ["requirements-dev.txt"]


def test_a_changed_dev_file_does_not_reinstall_the_runtime_one(scratch):
    _installs(scratch, "requirements-dev.txt")
    _edit(scratch, "requirements-dev.txt")
    assert _installs(scratch, "requirements.txt") == []
    assert _installs(scratch, "requirements-dev.txt") == ["requirements-dev.txt"]


def test_the_runtime_install_does_not_count_for_the_dev_file(scratch):
    assert _installs(scratch, "requirements.txt") == ["requirements.txt"]
    assert _installs(scratch, "requirements-dev.txt") == ["requirements-dev.txt"]
    assert _installs(scratch, "requirements.txt") == []


def test_a_newer_file_with_the_same_content_installs_nothing(scratch):
    """A fresh checkout or a git worktree sharing the venv has newer files with the content
    installed already: nothing to install (a date check ran pip into the shared venv)."""
    _installs(scratch, "requirements-dev.txt")
    later = time.time() + 60
    for requirements in scratch.glob("requirements*.txt"):
        os.utime(requirements, (later, later))
    assert _installs(scratch, "requirements-dev.txt") == []
    assert _installs(scratch, "requirements.txt") == []


def test_a_file_included_twice_over_counts_too(scratch):
    (scratch / "requirements-ci.txt").write_text("--requirement=requirements-dev.txt\nhypothesis\n")
    assert _installs(scratch, "requirements-ci.txt") == ["requirements-ci.txt"]
    assert _installs(scratch, "requirements.txt") == []
    assert _installs(scratch, "requirements-dev.txt") == []
    _edit(scratch, "requirements.txt")
    assert _installs(scratch, "requirements-ci.txt") == ["requirements-ci.txt"]
