"""ARKG: the Afghan Resistance Knowledge Graph server package."""

__version__ = "0.1.0"
