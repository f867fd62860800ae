"""What the read-only/SERVICE guard adds to a query, against pyoxigraph's own cost of the same query.

Run: .venv/bin/python bench/guard_cost.py
"""

from __future__ import annotations

import time

from server.sparql.guard import analyse, check
from server.engine.dataset import dataset_files, load_store

QUERIES = {
    "entity lookup": "SELECT ?p ?o WHERE { <https://w3id.org/arkg/id/person/ahmad-massoud> ?p ?o }",
    "claims about an entity": (
        "PREFIX arkg: <https://w3id.org/arkg/ontology#> PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> "
        "PREFIX prov: <http://www.w3.org/ns/prov#> SELECT ?claim ?speaker ?stance ?article WHERE { "
        "?claim rdf:subject <https://w3id.org/arkg/id/person/ahmad-massoud> ; arkg:claimant ?speaker ; "
        "arkg:stance ?stance ; prov:wasDerivedFrom ?article }"),
    "with FROM (full scan path)": (
        "SELECT ?s FROM <https://w3id.org/arkg/graph/entities> WHERE { ?s ?p ?o } LIMIT 10"),
}


def per_call(fn, n: int = 5000) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    store = load_store(dataset_files())
    print(f"{'query':28} {'guard µs':>9} {'query µs':>9} {'ratio':>7}")
    for name, query in QUERIES.items():
        guard = per_call(lambda: check(analyse(query), allowed_services=()))
        evaluate = per_call(lambda: list(store.query(query, use_default_graph_as_union=True)), n=500)
        print(f"{name:28} {guard * 1e6:9.1f} {evaluate * 1e6:9.1f} {guard / evaluate:7.2%}")


if __name__ == "__main__":
    main()
