"""Answer searches from the index the build wrote (server/publish/search_index.py); no HTTP.

Entity search ranks, as Wikidata's entity search does, an exact spelling above a folded one
(case, accents, transliteration, punctuation) above a word prefix (type-ahead) above a
substring above a fuzzy match (rapidfuzz, over at most ``FUZZY_CANDIDATES`` names the
trigram index proposes, never the whole table); ties go to the entity more claims mention.
Quote search ranks evidence quotes by bm25 and highlights the words found.

Every index query reads a bounded number of rows: the index stores names in popularity
order, so the first matches FTS5 returns are the ones shown; substring and fuzzy candidates
come from the query's rarest trigrams; bm25 ranks at most ``RANK_WINDOW`` quotes (a query
matching more is ranked among the first ``RANK_WINDOW`` in claim order), computed here from
word counts the build stored, because FTS5's ``bm25()`` rescans each word's whole list on
every query; and every FTS query stops after ``WORK_LIMIT`` SQLite steps with the rows found.

The index is opened read-only, one connection per thread, and reopened when the build
replaces the file (``arkg build``, reload). All calls block: run them off the event loop.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz, process

from server.model.search_text import INDEX_SCHEMA, KINDS, MAX_QUERY_CHARS, ascii_key, fold, quote_words

MAX_LIMIT = 50
MAX_OFFSET = 1000  # deeper pages are refused: refine the query instead
FUZZY_GRAMS = 6  # rarest trigrams of the query that propose fuzzy candidates
FUZZY_PER_GRAM = 2000  # names read per trigram, at most (most mentioned first)
FUZZY_CANDIDATES = 100  # names rapidfuzz scores, at most: those sharing the most trigrams
FUZZY_CUTOFF = 75.0
RANK_WINDOW = 1000  # quotes ranked by bm25, at most: the first that match, in claim order
WORK_LIMIT = 2_000_000  # SQLite VM steps one index query may take (tens of ms); then its rows so far
_TICK = 10_000
RANKS = ("exact", "folded", "prefix", "substring", "fuzzy")
_MARK_START, _MARK_END = "\x02", "\x03"


class IndexMissing(Exception):
    """No search index has been built where the settings say."""


class BadSearch(ValueError):
    """A search this module refuses; the message says what to fix."""


@dataclass(frozen=True)
class EntityHit:
    iri: str
    kind: str
    label: str
    description: str
    claims: int
    rank: str  # one of RANKS
    match_text: str  # the spelling that matched
    match_source: str  # "label", "alias" or "entityId" (Wikidata's match types)


@dataclass(frozen=True)
class QuoteHit:
    claim: str
    label: str
    quote: str
    snippet: list[tuple[str, bool]]  # (text, highlighted)


@dataclass(frozen=True)
class Page:
    hits: list = field(default_factory=list)
    offset: int = 0
    more: bool = False  # another page follows


def check_query(q: str | None, *, limit: int = 10, page: int = 1) -> str:
    """``q`` with whitespace collapsed, or :class:`BadSearch` saying what is wrong."""
    text = " ".join((q or "").split())
    if not text:
        raise BadSearch("Give something to search for: ?q=... (a name, part of a name, or words of a quote).")
    if len(text) > MAX_QUERY_CHARS:
        raise BadSearch(f"The search text is {len(text)} characters long; at most {MAX_QUERY_CHARS} are accepted.")
    if "\x00" in text or "\ufffd" in text:
        raise BadSearch("The search text contains a NUL or an undecodable character; send UTF-8 text.")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadSearch(f"limit must be between 1 and {MAX_LIMIT}.")
    if page < 1 or (page - 1) * limit > MAX_OFFSET:
        raise BadSearch(f"page must be at least 1 and start within the first {MAX_OFFSET} hits; refine the search instead.")
    return text


def check_kind(kind: str | None) -> str | None:
    if not kind:
        return None
    if kind not in KINDS:
        raise BadSearch(f"Unknown type {kind[:30]!r}; use one of: {', '.join(KINDS)}.")
    return kind


def _phrase(word: str) -> str:
    return '"' + word.replace('"', "") + '"'


class SearchIndex:
    """One index file; a connection per thread (sqlite3 connections are not shared across threads)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()
        with self._connect() as db:
            schema = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if schema is None or int(schema[0]) != INDEX_SCHEMA:
            raise IndexMissing(f"The search index {path} was built by another version of ARKG; run `arkg build`.")

    def _connect(self) -> sqlite3.Connection:
        # immutable: the build never changes a published file, it replaces it (a new inode)
        return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    def _rows(self, sql: str, args: tuple):
        """The rows of ``sql``, until it has done ``WORK_LIMIT`` SQLite steps: then the rows so far.

        Rows come in popularity order (rowids), so a query stopped early has read the most
        mentioned matches; it bounds the few queries whose matches are everywhere but rare together."""
        db, ticks = self.db, [0]

        def tick() -> int:
            ticks[0] += 1
            return ticks[0] > WORK_LIMIT // _TICK

        db.set_progress_handler(tick, _TICK)
        try:
            cursor = db.execute(sql, args)
            while True:
                try:
                    rows = cursor.fetchmany(64)
                except sqlite3.OperationalError:  # interrupted by tick()
                    return
                if not rows:
                    return
                yield from rows
        finally:
            db.set_progress_handler(None, 0)

    def _grams(self, key: str) -> tuple[list[tuple[str, int]], bool]:
        """The key's trigrams found in some name with how many names have each, rarest first,
        and whether all of them are found (if one is in no name, no name contains the key)."""
        grams = sorted({key[i:i + 3] for i in range(len(key) - 2)})
        if not grams:
            return [], False
        marks = ",".join("?" * len(grams))
        docs = dict(self.db.execute(f"SELECT gram, docs FROM name_grams WHERE gram IN ({marks})", grams))
        return sorted(docs.items(), key=lambda item: (item[1], item[0])), len(docs) == len(grams)

    # --- entities

    def entities(self, q: str, *, kind: str | None = None, limit: int = 10, page: int = 1) -> Page:
        text = check_query(q, limit=limit, page=page)
        kind = check_kind(kind)
        offset = (page - 1) * limit
        need = offset + limit + 1
        key = ascii_key(text)
        found: dict[int, tuple[float, tuple, str, str]] = {}  # entity -> (rank, order within rank, spelling, source)
        where, args = ("AND n.kind = ?", (kind,)) if kind else ("", ())

        def add(rank: float, rows) -> None:
            for entity, name, source in rows:
                if entity not in found:
                    found[entity] = (rank, (entity,), name, source)  # entity ids are in popularity order
                    if len(found) >= need and rank >= 2:  # ranks 0-1 are few rows, read them all
                        return

        db = self.db
        add(0, db.execute(f"SELECT entity, name, source FROM names n WHERE name = ? {where}", (text, *args)))
        if key:
            add(1, db.execute(f"SELECT entity, name, source FROM names n WHERE (key = ? OR folded = ?) {where}",
                              (key, fold(text), *args)))
            words = key.split(" ")
            prefix = " ".join([*map(_phrase, words[:-1]), _phrase(words[-1]) + "*"])
            grams, contains = self._grams(key)
            # Names before identifiers: an anonymous agent's local name repeats its article's slug.
            for rank, names in ((2, True), (2.5, False), (3, True), (3.5, False)):
                if len(found) >= need or (rank >= 3 and not contains):
                    continue
                column = "label_key" if names else "id_key"
                if rank < 3:
                    sql = (f"SELECT n.entity, n.name, n.source FROM names_words t JOIN names n ON n.id = t.rowid "
                           f"WHERE names_words MATCH ? {where}")
                    add(rank, self._rows(sql, (f"{column} : ({prefix})", *args)))
                else:  # the two rarest trigrams find the candidates, instr() keeps those containing the key
                    sql = (f"SELECT n.entity, n.name, n.source FROM names_tri t JOIN names n ON n.id = t.rowid "
                           f"WHERE names_tri MATCH ? AND instr(n.key, ?) > 0 {where}")
                    grams2 = " ".join(_phrase(g) for g, _ in grams[:2])
                    add(rank, self._rows(sql, (f"{column} : ({grams2})", key, *args)))
            if len(found) < need and grams:
                self._fuzzy(key, grams, where, args, found, need)
        ordered = sorted(found.items(), key=lambda item: (item[1][0], item[1][1], item[0]))
        window = ordered[offset:offset + limit]
        rows = {}
        if window:
            marks = ",".join("?" * len(window))
            for row in db.execute(f"SELECT id, iri, kind, label, description, claims FROM entities WHERE id IN ({marks})",
                                  [entity for entity, _ in window]):
                rows[row[0]] = row
        hits = [EntityHit(iri=rows[e][1], kind=rows[e][2], label=rows[e][3], description=rows[e][4], claims=rows[e][5],
                          rank=RANKS[int(rank)], match_text=name, match_source=source)
                for e, (rank, _, name, source) in window]
        return Page(hits, offset, len(ordered) > offset + limit)

    def _fuzzy(self, key: str, grams: list[str], where: str, args: tuple, found: dict, need: int) -> None:
        # Candidates: the names sharing most of the key's rarest trigrams (a misspelling keeps
        # most of them), each trigram's list read up to a bound, most mentioned first; rapidfuzz
        # scores only the best FUZZY_CANDIDATES of them.
        shared: Counter[int] = Counter()
        # trigrams whose lists are read whole; common ones would only add noise (at least two)
        rare = [g for i, (g, docs) in enumerate(grams[:FUZZY_GRAMS]) if docs <= FUZZY_PER_GRAM or i < 2]
        for gram in rare:
            shared.update(rowid for (rowid,) in self._rows("SELECT rowid FROM names_tri WHERE names_tri MATCH ? LIMIT ?",
                                                           ("label_key : " + _phrase(gram), FUZZY_PER_GRAM)))
        best = [rowid for rowid, _ in shared.most_common(FUZZY_CANDIDATES)]
        if not best:
            return
        marks = ",".join("?" * len(best))
        rows = self.db.execute(f"SELECT n.entity, n.name, n.source, n.key FROM names n WHERE n.id IN ({marks}) "
                               f"AND n.source != 'entityId' {where}", (*best, *args)).fetchall()
        if not rows:
            return
        scored = process.extract(key, [r[3] for r in rows], scorer=_closeness, limit=len(rows), score_cutoff=FUZZY_CUTOFF)
        closeness = sorted((-score, rows[i][0], i) for _, score, i in scored)  # closer, then more mentioned
        for order in closeness:
            entity, name, source, _ = rows[order[-1]]
            if entity not in found:
                found[entity] = (4, order[:2], name, source)
                if len(found) >= need:
                    break

    # --- quotes

    def quotes(self, q: str, *, limit: int = 10, page: int = 1) -> Page:
        text = check_query(q, limit=limit, page=page)
        offset = (page - 1) * limit
        words = sorted(set(quote_words(text)))
        if not words:
            return Page([], offset, False)
        db = self.db
        marks = ",".join("?" * len(words))
        docs = dict(db.execute(f"SELECT term, docs FROM quote_terms WHERE term IN ({marks})", words))
        if len(docs) < len(words):  # a word no quote has: no quote has them all
            return Page([], offset, False)
        total, mean = self._quote_stats()
        expression = " ".join(map(_phrase, sorted(words, key=lambda w: docs[w])))
        candidates = list(self._rows("SELECT q.id, q.words FROM quotes_fts f JOIN quotes q ON q.id = f.rowid "
                                     "WHERE quotes_fts MATCH ? LIMIT ?", (expression, RANK_WINDOW)))
        # bm25 as FTS5 computes it (k1 = 1.2, b = 0.75, idf floored at 1e-6)
        idf = {w: max(1e-6, math.log((total - n + 0.5) / (n + 0.5))) for w, n in docs.items()}
        scored = []
        for rowid, text_words in candidates:
            tokens = text_words.split(" ")
            norm = 1.2 * (0.25 + 0.75 * len(tokens) / mean)
            score = 0.0
            for w in words:
                tf = tokens.count(w)
                score += idf[w] * tf * 2.2 / (tf + norm)
            scored.append((-score, rowid))
        scored.sort()
        hits = []
        for _, rowid in scored[offset:offset + limit]:
            claim, label, quote = db.execute("SELECT claim, label, quote FROM quotes WHERE id = ?", (rowid,)).fetchone()
            snippet = db.execute("SELECT snippet(quotes_fts, 0, ?, ?, '…', 24) FROM quotes_fts "
                                 "WHERE quotes_fts MATCH ? AND rowid = ?",
                                 (_MARK_START, _MARK_END, expression, rowid)).fetchone()
            hits.append(QuoteHit(claim, label, quote, _segments(snippet[0] if snippet else quote)))
        return Page(hits, offset, len(scored) > offset + limit)

    def _quote_stats(self) -> tuple[int, float]:
        stats = getattr(self, "_stats", None)
        if stats is None:
            meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('quotes', 'quote_words_mean')"))
            stats = self._stats = (int(meta["quotes"]), float(meta["quote_words_mean"]) or 1.0)
        return stats


def _closeness(query: str, name: str, *, score_cutoff: float = 0.0, **_) -> float:
    """How close a name (ASCII key) is to a misspelt query, 0-100: the edit similarity of the
    whole name, or at 0.95 of the run of its words the query best matches (so "Panjsher" is
    closer to "Panjshir" than to "Panjshir Valley", and "Synthtic person 9332" is closest to
    "Synthetic person 9332 (council border)"). rapidfuzz's WRatio and partial_ratio were tried
    first: they score any overlapping part alike, so that last query tied with twenty names."""
    best = fuzz.ratio(query, name)
    words = name.split(" ")
    if len(words) > 1:
        for i in range(len(words)):
            window, j = words[i], i + 1
            while len(window) < len(query) and j < len(words):
                window, j = window + " " + words[j], j + 1
            best = max(best, 0.95 * fuzz.ratio(query, window))
            if j < len(words):
                best = max(best, 0.95 * fuzz.ratio(query, window + " " + words[j]))
    return best


def _segments(snippet: str) -> list[tuple[str, bool]]:
    """``a \\x02b\\x03 c`` -> [("a ", False), ("b", True), (" c", False)]."""
    out = []
    for i, part in enumerate(re.split(f"[{_MARK_START}{_MARK_END}]", snippet)):
        if part:
            out.append((part, i % 2 == 1))
    return out


_open: dict[Path, tuple[tuple[int, int], SearchIndex]] = {}
_open_lock = threading.Lock()


def index_at(path: Path) -> SearchIndex:
    """The index at ``path``, opened once per process and reopened when a build replaces the file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise IndexMissing(f"search index not built ({path} is missing); run `arkg build`.") from None
    identity = (stat.st_ino, stat.st_mtime_ns)
    with _open_lock:
        cached = _open.get(path)
        if cached is None or cached[0] != identity:
            try:
                cached = (identity, SearchIndex(path))
            except sqlite3.DatabaseError as exc:
                raise IndexMissing(f"The search index {path} cannot be read ({exc}); run `arkg build`.") from None
            _open.pop(path, None)
            _open[path] = cached
            # The builds a reload left behind: dropping them closes their connections, so the
            # files a build prunes are freed on disk (at most the old and the new one stay open).
            while len(_open) > 2:
                _open.pop(next(iter(_open)))
        return cached[1]
