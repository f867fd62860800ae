"""The collector settings of a serving process (server/web/heap.py)."""

from __future__ import annotations

import gc
import weakref

import pytest
from fastapi.testclient import TestClient

from server.web import heap
from server.web.app import create_app


class _Node:
    pass


@pytest.fixture
def restored_collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_is_held_and_frees_it_at_the_next_settle(restored_collector):
    node = _Node()
    node.loop = node  # a cycle: only the collector frees it
    ref = weakref.ref(node)
    heap.settle()
    del node
    gc.collect()
    assert ref() is not None  # frozen with the rest of start-up: out of the collector's sight
    heap.settle()  # as after a reload retired a backend
    assert ref() is None
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


def test_the_app_settles_its_heap_once_the_backend_has_started(settings, restored_collector):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
