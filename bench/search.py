"""Search latency: entity and quote search over a built index, against the SPARQL REGEX it replaces.

Queries are drawn (seeded) from the index's own names and quotes, in the shapes people type:
whole labels, alternative labels, identifiers, type-ahead prefixes, substrings, misspellings
(fuzzy), and words or phrases of quotes, including ones that match every quote. Each is run
through server/views/search.py as the web server does (no HTTP), one at a time, warm.
The peer, in the same run, is a case-insensitive SPARQL ``REGEX`` over ``rdfs:label`` on the
same pyoxigraph store: what a researcher without the index has to write.

    .venv/bin/python bench/search.py --index /work/scratch/search/5m.sqlite --store /work/scratch/search/store5m
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.views.search import index_at  # noqa: E402


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, max(2, len(text) - 1))
    return text[:i] + text[i + 1:]  # one letter dropped


def entity_queries(db: sqlite3.Connection, n: int, rng: random.Random) -> list[tuple[str, str]]:
    names = db.execute("SELECT name, source FROM names").fetchall()
    out = []
    for _ in range(n):
        name, source = rng.choice(names)
        shape = rng.choice(("whole", "prefix", "prefix", "substring", "typo", "lower"))
        if shape == "whole":
            out.append((f"whole {source}", name))
        elif shape == "prefix":
            out.append(("prefix", name[:rng.randint(1, min(12, len(name)))]))
        elif shape == "substring":
            start = rng.randrange(0, max(1, len(name) - 5))
            out.append(("substring", name[start:start + rng.randint(4, 8)]))
        elif shape == "typo":
            out.append(("typo", _typo(rng, name)))
        else:
            out.append(("folded", name.upper()))
    return out


def quote_queries(db: sqlite3.Connection, n: int, rng: random.Random) -> list[tuple[str, str]]:
    quotes = [q for (q,) in db.execute("SELECT quote FROM quotes LIMIT 50000")]
    out = []
    for _ in range(n):
        words = re.findall(r"\w+", rng.choice(quotes))
        shape = rng.choice(("word", "phrase", "phrase", "common"))
        if shape == "word":
            out.append(("word", rng.choice(words)))
        elif shape == "phrase":
            start = rng.randrange(0, max(1, len(words) - 3))
            out.append(("phrase", " ".join(words[start:start + rng.randint(2, 5)])))
        else:
            out.append(("common", " ".join(words[-4:])))  # in the synthetic data: every quote
    return out


CPU: list[float] = []  # CPU time of each query (thread_time), beside wall time: the machine may be shared


def timed(fn, queries) -> list[float]:
    times = []
    for _, q in queries:
        started, cpu = time.perf_counter(), time.thread_time()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
        CPU.append((time.thread_time() - cpu) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    times = sorted(times)
    p = lambda f: times[min(len(times) - 1, int(f * len(times)))]  # noqa: E731
    return (f"{name:<28} n={len(times):<5} p50={statistics.median(times):7.2f} ms  p90={p(0.90):7.2f} ms  "
            f"p99={p(0.99):7.2f} ms  max={times[-1]:7.2f} ms")


def regex_peer(store_dir: Path, queries: list[tuple[str, str]]) -> list[float]:
    import pyoxigraph as ox

    store = ox.Store.read_only(str(store_dir))
    times = []
    for _, q in queries:
        pattern = re.escape(q).replace("\\", "\\\\").replace('"', '\\"')
        sparql = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?e ?l WHERE { "
                  f'?e rdfs:label ?l FILTER(REGEX(?l, "{pattern}", "i")) }} LIMIT 10')
        started = time.perf_counter()
        list(store.query(sparql, use_default_graph_as_union=True))
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="A search index built by arkg build (search.sqlite).")
    parser.add_argument("--store", type=Path, help="The on-disk store it was built from, for the REGEX peer.")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--peer-queries", type=int, default=20, help="REGEX queries (each scans every label).")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    db = sqlite3.connect(f"file:{args.index}?mode=ro", uri=True)
    counts = dict(db.execute("SELECT key, value FROM meta").fetchall())
    print(f"index: {counts.get('entities')} entities, {counts.get('names')} names, {counts.get('quotes')} quotes")
    index = index_at(args.index)
    entities, quotes = entity_queries(db, args.queries, rng), quote_queries(db, args.queries, rng)
    index.entities("warm up"), index.quotes("warm up")
    entity_times = timed(lambda q: index.entities(q, limit=10), entities)
    entity_cpu = CPU[:]
    CPU.clear()
    quote_times = timed(lambda q: index.quotes(q, limit=10), quotes)
    quote_cpu = CPU[:]
    print("wall-clock time per query (CPU time of the same queries below)")
    print(summary("entity search (all)", entity_times))
    for shape in sorted({s for s, _ in entities}):
        print(summary(f"  {shape}", [t for (s, _), t in zip(entities, entity_times) if s == shape]))
    print(summary("quote search (all)", quote_times))
    for shape in sorted({s for s, _ in quotes}):
        print(summary(f"  {shape}", [t for (s, _), t in zip(quotes, quote_times) if s == shape]))
    print(summary("entity search, CPU time", entity_cpu))
    print(summary("quote search, CPU time", quote_cpu))
    if args.store:
        sample = rng.sample(entities, min(args.peer_queries, len(entities)))
        peer = regex_peer(args.store, sample)
        mine = timed(lambda q: index.entities(q, limit=10), sample)
        print(summary("peer: SPARQL REGEX on labels", peer))
        print(summary("  same queries, search index", mine))
        # REGEX with LIMIT 10 stops early on a common prefix and reads every label otherwise: means, not medians
        print(f"  ratio of means (REGEX / index): {statistics.mean(peer) / statistics.mean(mine):.0f}x")


if __name__ == "__main__":
    main()
