"""Our query pool against pebble's ProcessPool for the same cheap lookup (bench/README.md).

Run: .venv/bin/python bench/pool_vs_pebble.py  (needs the bench extra: pebble)
"""
import asyncio, time
import pyoxigraph as ox
from pebble import ProcessPool
from server.engine.pool import QueryPool
from server.engine.worker import Request, StoreSpec, execute, open_store
from server.engine.dataset import dataset_files

SPEC = StoreSpec(files=tuple((str(f.path), f.graph_iri) for f in dataset_files()))
Q = "SELECT ?p ?o WHERE { <https://w3id.org/arkg/id/person/ahmad-massoud> ?p ?o }"
_store = None
def init():
    global _store
    _store = open_store(SPEC)
def run(q):
    return execute(_store, Request(q, "json", "ttl"), max_bytes=1 << 26)

async def main(n=2000):
    pool = await QueryPool(SPEC, size=2, timeout=30).start()
    for label in ("ours", "pebble", "ours", "pebble"):
        if label == "ours":
            t = time.perf_counter()
            await asyncio.gather(*(pool.run(Request(Q, "json", "ttl")) for _ in range(n)))
        else:
            with ProcessPool(max_workers=2, initializer=init) as pp:
                await asyncio.wrap_future(pp.schedule(run, args=(Q,), timeout=30))
                t = time.perf_counter()
                await asyncio.gather(*(asyncio.wrap_future(pp.schedule(run, args=(Q,), timeout=30)) for _ in range(n)))
        print(label, f"{(time.perf_counter() - t) / n * 1e6:.0f} µs per query (wall, {n} queued)")
    await pool.close()

if __name__ == "__main__":
    asyncio.run(main())
