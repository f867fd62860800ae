"""/metrics: the server's counters in the Prometheus text format (server/web/metrics.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from server.web import metrics
from server.web.errors import ClientError
from server.web.observe import refresh_workers

router = APIRouter(tags=["meta"])


@router.get("/metrics", summary="Prometheus metrics: requests, query durations, workers, 429s, reloads",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics_text(request: Request) -> Response:
    if not request.app.state.settings.metrics:
        raise ClientError(404, "Metrics are switched off on this server (ARKG_METRICS=false).")
    refresh_workers(request.app.state)
    body, media_type = await run_in_threadpool(metrics.render)  # reads every worker's file
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})
