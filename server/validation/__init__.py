"""SHACL validation of the ARKG data: loading, running the shapes, corpus checks, reports.

- :mod:`.loading`      data + ontology into one graph, shapes apart, and which file says what
- :mod:`.engine`       pyshacl for the core constraints, :mod:`.sparql` for SPARQL ones
- :mod:`.sparql`       SHACL-SPARQL constraints evaluated with pyoxigraph
- :mod:`.corpus`       checks that need the article texts (SHA-256, quotes at offsets)
- :mod:`.violations`   one violation: focus node, path, message, file
- :mod:`.report`       the readable report
- :mod:`.cache`        remembers a passing dataset version so `arkg serve` starts fast

The entry points for commands are in :mod:`server.validation.run`.
"""
