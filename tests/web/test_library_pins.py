"""The shims that rely on private parts of uvicorn, FastAPI or Starlette name the minor versions
they were written for (``WRITTEN_FOR``); pyproject.toml pins exactly those (``==x.y.*``), and
this test fails, saying what to do, when the installed versions differ.

Why: a private attribute can change in any release. The figures that justify each shim, and
the decision to keep it, are in bench/README.md ("Private internals").
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from server.web import fastpath, serving

ROOT = Path(__file__).resolve().parents[2]
SHIMS = {"server/web/fastpath.py": fastpath.WRITTEN_FOR, "server/web/serving.py": serving.WRITTEN_FOR}


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _pins() -> dict[str, str]:
    """package -> the x.y of its ``==x.y.*`` pin in pyproject.toml's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*==\s*(\d+\.\d+)\.\*\s*", requirement.split(";")[0])
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.mark.parametrize("shim", SHIMS)
def test_installed_versions_are_those_the_shim_was_written_for(shim):
    for package, written_for in SHIMS[shim].items():
        installed = metadata.version(package)
        assert _minor(installed) == written_for, (
            f"{shim} relies on private parts of {package} and was written for {package} {written_for}.*, "
            f"but {package} {installed} is installed. Re-check the shim against the new release, re-measure "
            f"what it buys (bench/README.md, 'Private internals'), then update WRITTEN_FOR in {shim} and the "
            f"pin in pyproject.toml together.")


@pytest.mark.parametrize("shim", SHIMS)
def test_pyproject_pins_what_the_shims_expect(shim):
    pins = _pins()
    for package, written_for in SHIMS[shim].items():
        assert pins.get(package) == written_for, (
            f"pyproject.toml must pin {package}=={written_for}.* (what {shim} was written for); "
            f"it pins {pins.get(package, 'nothing')}.")
