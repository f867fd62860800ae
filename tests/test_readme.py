"""README's two commands stay true: CI calls the test command, and the serve command's pieces exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    """The indented command lines at the top of README.md, before the first section."""
    head = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    return [line.strip() for line in head.splitlines() if line.startswith("    ")]


def test_readme_opens_with_exactly_two_commands():
    serve, test = commands()
    assert serve.endswith("arkg serve") and "pip install" in serve
    assert "pytest" in test and "pip install" in test


def test_ci_runs_readme_test_command():
    _, test = commands()
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_cli_subcommands_explain_themselves():
    out = subprocess.run([sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "query", "curate"):
        assert command in out
        help_text = subprocess.run([sys.executable, "-m", "server.cli", command, "--help"],
                                   capture_output=True, text=True, check=True).stdout
        assert "Usage" in help_text and len(help_text) > 200


def test_query_command_prints_results_in_the_asked_format():
    out = subprocess.run([sys.executable, "-m", "server.cli", "query",
                          "SELECT (COUNT(*) AS ?n) WHERE { ?c a <https://w3id.org/arkg/ontology#Claim> }", "--format", "csv"],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == "n" and int(out.splitlines()[1]) > 100
    bad = subprocess.run([sys.executable, "-m", "server.cli", "query", "SELECT * {", "--format", "json"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "syntax" in bad.stderr.lower()
