"""The store layer: loading the dataset and answering SPARQL. Knows nothing of HTTP."""
