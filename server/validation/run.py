"""Validation entry points: `arkg validate` and the check `arkg serve` runs before serving.

The SHACL work lives in :mod:`server.validation`; this module puts its parts together
(tests/validation/ and tests/pipeline/ run it on the real data and on broken copies).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from server.settings import Settings
from server.validation import corpus as corpus_checks
from server.validation import engine
from server.validation import report
from server.validation import sparql
from server.validation.loading import LoadError, load
from server.validation.violations import Violation


@dataclass
class Result:
    violations: list[Violation] = field(default_factory=list)
    text: str = ""  # the readable report

    @property
    def passed(self) -> bool:
        return not self.violations


def validate(root: Path | None = None, *, corpus: Path | None = None, reference: bool = False) -> Result:
    """Validate the dataset under ``root`` (default: the package data) against its shapes;
    with ``corpus``, also check hashes and quotes against the article texts there."""
    started = time.monotonic()
    try:
        inputs = load(root)
    except LoadError as exc:
        problem = Violation(file="", focus="(dataset)", path="", message=str(exc), shape="parse")
        return Result([problem], f"ARKG validation FAILED: the dataset does not load: {exc}")
    try:
        outcome = engine.run(inputs, reference=reference)
    except sparql.Unsupported as exc:
        problem = Violation(file="", focus="(shapes)", path="", message=str(exc), shape="shapes")
        return Result([problem], f"ARKG validation FAILED: the shapes cannot be run: {exc}")
    violations = outcome.violations
    if corpus is not None:
        violations = sorted(set(violations) | set(corpus_checks.check(inputs, corpus)))
    text = report.render(violations, triples=inputs.triples, files=len(inputs.files), seconds=time.monotonic() - started,
                         corpus=str(corpus) if corpus else None, engine=outcome.engine if reference else None)
    return Result(violations, text)


def validate_for_serving(settings: Settings) -> str | None:
    """A readable report if the data must not be published, else None.

    A dataset version that passed before (with the same validation code) is not validated
    again: see :mod:`server.validation.cache`.
    """
    from server.validation import cache
    from server.engine.dataset import dataset_files, dataset_version

    version = dataset_version(dataset_files(settings.data_dir))
    if cache.passed(settings.cache_dir, version):
        return None
    result = validate(settings.data_dir)
    if not result.passed:
        return result.text
    cache.remember(settings.cache_dir, version)
    return None
