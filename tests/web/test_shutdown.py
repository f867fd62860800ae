"""A request cancelled before it answered (SIGTERM's grace ran out) gets 503, not a 500."""

from __future__ import annotations

import asyncio

import pytest

from server.web.shutdown import CancelledIsUnavailable


def _run(app) -> list[dict]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def main():
        task = asyncio.create_task(CancelledIsUnavailable(app)({"type": "http"}, receive, send))
        await asyncio.sleep(0.05)
        task.cancel()  # what uvicorn does to requests still running after the grace
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return sent


def test_cancelled_before_answering_is_503_with_retry_after():
    async def slow(scope, receive, send):
        await asyncio.sleep(60)

    sent = _run(slow)
    assert sent[0]["status"] == 503 and dict(sent[0]["headers"])[b"retry-after"] == b"5"
    assert b"shutting down" in sent[1]["body"]


def test_cancelled_after_answering_began_adds_nothing():
    async def streaming(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(60)

    sent = _run(streaming)
    assert [m.get("status") for m in sent] == [200]
