"""The data behind ARKG's pictures, one module per picture, each from one bounded SPARQL query.

- ``timeline``: dated claims (and dated events) placed by the dates the texts give.
- ``who_says``: propositions x speakers, one stance per cell ("who says what").
- ``meetings``: who met, hosted, brokered, sponsored, arranged or attended what.

Each module has ``query(...)`` (the SPARQL text, also offered to readers) and an async
``gather(backend, ...)`` returning a dataclass with the rows a table, a CSV and an SVG show.
No HTTP and no markup here.
"""
