"""Operational routes: /health."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from server.engine.backend import Backend
from server.model.build_layout import BuildLayout
from server.web.deps import get_backend

router = APIRouter(tags=["meta"])


@router.api_route("/health", methods=["GET", "HEAD"], summary="Liveness, dataset version and triple count")
async def health(request: Request, backend: Backend = Depends(get_backend)) -> JSONResponse:
    info = backend.info
    body = {
        "status": "ok",
        "version": info.version,
        "triples": info.triples,
        "graphs": {iri.rsplit("/", 1)[-1]: n for iri, n in sorted(info.graph_counts.items())},
        "loaded_at": info.loaded_at,
    }
    layout = BuildLayout.of(request.app.state.settings.build_dir, info.version)
    missing = layout.missing() if layout is not None else ["build"]
    body["build"] = {"directory": str(layout.root) if layout else None, "missing": missing,
                     "note": ("complete" if not missing else
                              "not built: run `arkg build` (dumps, VoID and precomputed figures are missing)"
                              if missing == ["build"] else "built without: " + ", ".join(missing))}
    inline = getattr(backend, "inline", None)
    if inline is not None:  # this process's counts (store/inline.py)
        body["inline_lookups"] = {"answered": inline.answered, "over_cap": inline.too_large,
                                  "failed": inline.failed, "max_bytes": inline.max_bytes}
    pool = getattr(backend, "pool", None)
    if pool is not None:  # this process's query workers (engine/pool.py; the spare: engine/backend.py)
        body["query_workers"] = {"size": pool.size, "spare": pool.spare, "busy": pool.busy}
    reload = getattr(request.app.state, "last_reload", None)
    if reload:
        body["last_reload"] = reload
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
