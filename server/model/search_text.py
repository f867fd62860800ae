"""How names are normalised for search: one definition for the index builder and the query side.

A name is kept in three spellings: as written, folded (case-folded, accents removed) and its
ASCII key (folded, transliterated by ``anyascii``, punctuation turned into spaces). Queries
go through the same functions, so "Mas'ud", "MASUD" and "Masūd" meet "Masud".

>>> fold("Ahmad Masʿūd")
'ahmad masʿud'
>>> ascii_key("Ahmad Masʿūd"), ascii_key("Taliban’s  assault"), ascii_key("احمد مسعود")
('ahmad mas ud', 'taliban s assault', 'hmd ms wd')
>>> words("  -- NEAR: \\"x*\\" ")
['near', 'x']
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

INDEX_SCHEMA = 3  # bump when the tables of the search index change; readers refuse other versions
KINDS = ("person", "organization", "place", "event", "group", "agent")  # the searchable kinds
MAX_QUERY_CHARS = 200

_NOT_WORD = re.compile(r"[^0-9a-z]+")
_QUOTE_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case-folded, accents removed, whitespace collapsed; still Unicode."""
    if text.isascii():  # most names and quotes: nothing to decompose (5x faster at build time)
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def ascii_key(text: str) -> str:
    """The folded text in ASCII letters and digits, words separated by single spaces."""
    return " ".join(_NOT_WORD.split(anyascii(fold(text)).lower())).strip()


def words(text: str) -> list[str]:
    """The ASCII words of ``text``: safe to quote in an FTS5 query (no operator survives)."""
    return [w for w in ascii_key(text).split(" ") if w]


def quote_words(text: str) -> list[str]:
    """The words of a quote as quote search counts them: folded, letters and digits (FTS5's unicode61)."""
    return _QUOTE_WORD.findall(fold(text))


def slug_words(iri: str) -> str:
    """An identifier's local name as words (``.../person/ahmad-massoud`` -> ``ahmad massoud``)."""
    return " ".join(w for w in re.split(r"[-_]+", iri.rstrip("/").rsplit("/", 1)[-1]) if w)
