"""Values computed once per dataset version in each server process (figures, indexes, usage counts).

Whole-graph aggregations belong to the build; where a page still needs one that the build did
not write, it runs once per version here, never per request. A lock per key keeps concurrent
first requests to one computation.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

MAX_ENTRIES = 32  # a long-running server reloading often keeps only recent versions


class PerVersion:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._values: dict[tuple, Any] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}

    async def get(self, key: tuple, compute: Callable[[], Awaitable[Any]]) -> Any:
        """The value for ``key`` (whose first part should be the dataset version), computed on first use."""
        if key in self._values:
            return self._values[key]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._values:
                value = await compute()
                if len(self._values) >= self.max_entries:
                    self._values.clear()
                self._values[key] = value
        self._locks.pop(key, None)
        return self._values[key]


cache = PerVersion()  # one per process
