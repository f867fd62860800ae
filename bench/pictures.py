"""How long each picture takes to render (data, layout, SVG) over a large on-disk store.

    .venv/bin/python bench/pictures.py --store DIR --queries DATA/queries.json [--reps 20]

Opens the store the way ``arkg serve --store DIR`` does (the real backend: worker pool and
in-process lookups), then, sequentially, for the home page's pictures and for the pictures of
real and generated entities: ``--reps`` renders each after one warm-up, p50 and max in ms.
Peer in the same run: the data of the same entity's page (its document built, then ``views.pages.entity``), so figures
from a loaded machine still compare. Prints a table with the date and ``uptime``'s load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.engine.backend import open_backend, select  # noqa: E402
from server.model.urls import UrlMap  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.views import documents  # noqa: E402
from server.views import pages as page_views  # noqa: E402
from server.views.things import of_iri  # noqa: E402
from server.web import pictures  # noqa: E402

REAL = ["https://w3id.org/arkg/id/person/ahmad-massoud", "https://w3id.org/arkg/id/event/tehran-meeting"]


async def _time(reps: int, make) -> list[float]:
    await make()  # warm-up
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        await make()
        out.append((time.perf_counter() - started) * 1000)
    return out


async def main(store: Path, queries: Path | None, reps: int) -> None:
    settings = Settings(store=store, rate_limit=False, query_workers=2)
    urls = UrlMap(settings.public_url, settings.base_iri)
    backend = open_backend(settings)
    await backend.start()
    entities = list(REAL)
    if queries:
        generated = json.loads(queries.read_text())["query_entities"]
        entities += [next(e for e in generated if "/person/" in e), next(e for e in generated if "/organization/" in e)]
        # A generated event that claims are about (the generator names none in queries.json).
        rows = await select(backend, "SELECT ?e WHERE { ?c <http://www.w3.org/1999/02/22-rdf-syntax-ns#object> ?e "
                                     "FILTER(STRSTARTS(STR(?e), 'https://w3id.org/arkg/id/event/bench-')) } LIMIT 1")
        entities += [r["e"] for r in rows]
    rows = []
    try:
        cases = [(name, None) for name in ("timeline", "meetings", "who-says-what")]
        cases += [(name, iri) for iri in entities for name in ("timeline", "who-says-what", "meetings")]
        for name, about in cases:
            kind = about.rsplit("/", 2)[-2] if about else None

            async def render(name=name, about=about, kind=kind):
                fig = await pictures.figure(backend, name, about=about, is_event=kind == "event")
                await pictures.render_svg(fig, urls)
            times = await _time(reps, render)
            rows.append((name, about or "(home)", statistics.median(times), max(times)))
        for about in entities:
            ref = of_iri(about)
            async def page_data(ref=ref):
                page_views.entity(await documents.document_for(backend, ref))
            times = await _time(reps, page_data)
            rows.append(("peer: entity page data", about, statistics.median(times), max(times)))
    finally:
        await backend.close()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {load}; store {store}; {reps} reps after 1 warm-up")
    print("| picture | about | p50 ms | max ms |\n|---|---|---|---|")
    for name, about, p50, worst in rows:
        print(f"| {name} | {about.rsplit('/id/', 1)[-1]} | {p50:.1f} | {worst:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--queries", type=Path)
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.store, args.queries, args.reps))
