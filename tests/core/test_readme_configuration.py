"""The README's configuration table against collab/settings.py (and the product's knobs
it imports, collab/settings_product.py): every variable the settings read has a row, and
the default a row states is the one the settings take with nothing in the environment.
(The README listed ASGI_FAST's default without `front` after that piece was added.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.db_independent

# Loads collab.settings with an empty environment and no .env file (a developer's .env
# must not change what "default" means), and prints each setting named on stdin that is
# a plain value.
_LOAD_DEFAULTS = """
import json, sys
import environ
environ.Env.read_env = classmethod(lambda *args, **kwargs: None)
import collab.settings as s
names = json.load(sys.stdin)
print(json.dumps({n: getattr(s, n) for n in names if isinstance(getattr(s, n, None), (str, int, float, bool, list))}))
"""


def _readme_rows() -> dict[str, str]:
    """Variable name → the default cell's text, from the README's configuration table(s).
    A row naming several variables (`A` / `B`) splits its default the same way."""
    rows: dict[str, str] = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        defaults = [part.strip() for part in cells[1].split(" / ")] if len(names) > 1 else [cells[1]]
        rows.update(zip(names, defaults, strict=False))
    return rows


def _variables_read_by_settings() -> set[str]:
    """collab/settings.py and the product's knobs it imports (collab/settings_product.py)."""
    sources = [(ROOT / "collab" / name).read_text() for name in ("settings.py", "settings_product.py")]
    return {name for source in sources for name in re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source)}


def _as_written(value: object) -> str:
    """A setting's value as the README writes an environment value."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_as_written(item) for item in value)
    # A path under the repository is written relative to it (`.run/celerybeat-schedule`).
    return str(value).replace(f"{ROOT}/", "")


def test_every_variable_the_settings_read_has_a_row_in_the_readme():
    rows = _readme_rows()
    missing = sorted(_variables_read_by_settings() - rows.keys())
    assert not missing, f"README.md's configuration table lacks {missing}"


def test_each_plain_default_in_the_readme_is_the_settings_default():
    # Rows whose default cell is one literal and whose setting has the variable's name.
    literal = re.compile(r"^`([^`]*)`(?:\s*\(`make run`.*\))?$")
    stated = {
        name: m.group(1)
        for name, cell in _readme_rows().items()
        # A default that names another variable (`REDIS_URL`) follows that one: not a literal.
        if (m := literal.match(cell)) and not re.fullmatch(r"[A-Z][A-Z0-9_]+", m.group(1))
    }
    env = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "collab.settings"}
    loaded = subprocess.run(
        [sys.executable, "-c", _LOAD_DEFAULTS],
        input=json.dumps(sorted(stated)),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    actual = json.loads(loaded.stdout.strip().splitlines()[-1])
    # Enough rows are comparable for the check to mean something (ASGI_FAST among them).
    assert len(actual) >= 40 and "ASGI_FAST" in actual and "GC_THRESHOLDS" in actual
    wrong = {
        name: (stated[name], _as_written(value)) for name, value in actual.items() if stated[name] != _as_written(value)
    }
    assert not wrong, f"README default → settings default: {wrong}"
