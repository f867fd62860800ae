"""The embedded backend (a pool of pyoxigraph workers) and the choice between it and a remote engine.

The interface both implement is in repository.py (re-exported here for callers); the remote
engine's client is remote.py.
"""

from __future__ import annotations

import asyncio

from server.model.build_layout import BuildLayout
from server.settings import Settings
from server.engine.dataset import dataset_files, dataset_version
from server.engine.inline import InlineStore
from server.engine.pool import QueryPool
from server.engine.remote import RemoteBackend
from server.engine.repository import Backend, DatasetInfo, describe_dataset, select
from server.engine.worker import QueryResult, QueryRequest, StoreSpec

__all__ = ["Backend", "DatasetInfo", "LocalBackend", "RemoteBackend", "open_backend", "select"]


class LocalBackend:
    """The embedded store: a pool of pyoxigraph worker processes over the data files or a disk store."""

    lateral = True  # pyoxigraph evaluates LATERAL

    def __init__(self, settings: Settings, *, spec: StoreSpec | None = None, version: str | None = None):
        self.settings = settings
        if spec is None:
            if settings.store:
                spec, version = StoreSpec(disk_path=str(settings.store)), version or _disk_version(settings.store)
            else:
                files = dataset_files(settings.data_dir)
                version = version or dataset_version(files)
                built = BuildLayout.of(settings.build_dir, version)
                if built is not None and built.complete:  # `arkg build` made it: every process shares it on disk
                    spec = StoreSpec(disk_path=str(built.store))
                else:  # no build (tests, a library user): the files, loaded into memory
                    spec = StoreSpec(files=tuple(files))
        self.spec, self.version = spec, version or "unknown"
        self.pool = QueryPool(spec, size=settings.query_workers, timeout=settings.query_timeout,
                              max_bytes=settings.max_result_bytes, memory_limit_mb=settings.worker_memory_mb,
                              preempt_after=settings.query_preempt_after, spare=spare_workers(settings, spec))
        self.info = DatasetInfo(self.version, 0)
        self.inline: InlineStore | None = None  # bounded lookups in this process (store/inline.py)

    async def start(self) -> None:
        # The workers and this process's own copy (store/inline.py) load side by side.
        opening = [self.pool.start()]
        if self.settings.inline_max_bytes:
            opening.append(InlineStore.open(self.spec, max_bytes=self.settings.inline_max_bytes))
        opened = await asyncio.gather(*opening, return_exceptions=True)
        failure = next((r for r in opened if isinstance(r, BaseException)), None)
        if failure is not None:
            await self.pool.close()
            raise failure
        self.inline = opened[1] if len(opened) > 1 else None
        self.info = await describe_dataset(self, self.version)

    async def close(self) -> None:
        self.inline = None
        await self.pool.close()

    async def run(self, request: QueryRequest, *, timeout: float | None = None, client: str = "") -> QueryResult:
        return await self.pool.run(request, timeout=timeout, client=client)

    def run_inline(self, request: QueryRequest) -> QueryResult | None:
        return self.inline.run(request) if self.inline is not None else None


def spare_workers(settings: Settings, spec: StoreSpec) -> int:
    """Idle query workers the pool keeps beyond ``query_workers``: the setting, or when unset
    1 over files loaded into memory and 0 over an on-disk store.

    A spare spares the query after a stopped one the wait for a replacement to load the
    dataset: seconds for files, about 10 ms to open a disk store at 5M triples. And it costs:
    pebble's idle workers all wake for every query and race for it, and queries rotate over
    one process more. At 5M triples with 8 connections the claims query took 4.4-4.5 ms of
    the server's CPU with a spare against 3.6 without, 420-434 against 520-531 queries/s
    (bench/README.md, "the spare query worker").

    >>> spare_workers(Settings(), StoreSpec(disk_path="store")), spare_workers(Settings(), StoreSpec(files=("a.ttl",)))
    (0, 1)
    >>> spare_workers(Settings(query_spare_workers=2), StoreSpec(disk_path="store"))
    2
    """
    if settings.query_spare_workers is not None:
        return settings.query_spare_workers
    return 0 if spec.disk_path else 1


def _disk_version(path) -> str:
    from pathlib import Path

    marker = Path(path) / "ARKG_VERSION"
    return marker.read_text().strip() if marker.exists() else "disk"


def open_backend(settings: Settings) -> Backend:
    """The backend the settings ask for."""
    return RemoteBackend(settings) if settings.remote_endpoint else LocalBackend(settings)

