"""Validation entry points used by `arkg serve` (the SHACL work lives in server/shacl/)."""

from __future__ import annotations

from .settings import Settings


def validate_for_serving(settings: Settings) -> str | None:
    """A readable report if the data must not be published, else None.

    Until the SHACL shapes land this only checks that every file parses and loads.
    """
    from .store.dataset import DatasetError, dataset_files, load_store

    try:
        load_store(dataset_files(settings.data_dir))
    except DatasetError as exc:
        return f"The dataset does not load: {exc}"
    return None
