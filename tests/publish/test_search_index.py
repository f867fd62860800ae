"""The search index over the real published data, and the ranking on a small made-up store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyoxigraph as ox
import pytest

from server.engine.dataset import dataset_files, load_store
from server.model.build_layout import BuildLayout
from server.model.namespaces import ARKG, ID, PREFIXES
from server.model.search_text import KINDS
from server.publish.search_index import build_search_index
from server.views.search import BadSearch, IndexMissing, index_at

MASSOUD = ID + "person/ahmad-massoud"


@pytest.fixture(scope="module")
def store() -> ox.Store:
    return load_store(dataset_files(), ox.Store())


@pytest.fixture(scope="module")
def index(store, tmp_path_factory):
    path = BuildLayout(tmp_path_factory.mktemp("build")).search_index
    build_search_index(store, path)
    return index_at(path)


def _iris(page) -> list[str]:
    return [h.iri for h in page.hits]


def test_fts5_and_trigram_are_available():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")


def test_every_label_and_alt_label_finds_its_entity_in_the_top_3(store, index):
    query = f"""PREFIX rdfs: <{PREFIXES['rdfs']}> PREFIX skos: <{PREFIXES['skos']}>
        SELECT DISTINCT ?e ?name WHERE {{ ?e rdfs:label|skos:altLabel ?name }}"""
    pairs = [(row["e"].value, row["name"].value) for row in store.query(query, use_default_graph_as_union=True)
             if row["e"].value.startswith(ID) and row["e"].value[len(ID):].split("/")[0] in KINDS]
    assert len(pairs) > 200  # the corpus's entities, each with its label and alternative labels
    # Five reader commenters share the label "anonymous reader commenter": a spelling that n
    # entities share finds each of them in the top max(3, n), all before any other entity.
    sharing = {name: sum(1 for _, other in pairs if other == name) for _, name in pairs}
    misses = [(iri, name) for iri, name in pairs
              if iri not in _iris(index.entities(name, limit=max(3, sharing[name])))]
    assert misses == []


@pytest.mark.parametrize("spelling", ["Masud", "Maasod", "Massood", "Amssod", "Masood", "Masoud", "Massoud",
                                      "Ahmed Amssod", "ahmad masud", "AHMAD MASSOUD", "Aḥmad Masʿūd", "Massod"])
def test_the_press_spellings_of_massoud_find_him_first(index, spelling):
    assert _iris(index.entities(spelling))[0] == MASSOUD


@pytest.mark.parametrize("spelling", ["Panjshir", "panjshir", "Panjsher", "Panjshir province"])
def test_spellings_of_panjshir_find_the_province_first(index, spelling):
    assert _iris(index.entities(spelling))[0] == ID + "place/panjshir-province"


@pytest.mark.parametrize("typo, slug", [("Amrulah Saleh", "person/amrullah-saleh"), ("Mujahed", "person/zabihullah-mujahid"),
                                        ("Zabiullah", "person/zabihullah-mujahid"), ("Dushambe", "place/dushanbe"),
                                        ("Tehrann", "place/tehran")])
def test_misspellings_find_the_entity_first(index, typo, slug):
    hit = index.entities(typo).hits[0]
    assert (hit.iri, hit.rank) == (ID + slug, "fuzzy")


def test_an_entitys_claim_count_counts_its_claims_not_the_propositions_about_it(store, index):
    """What the results show as "N claims": claims about it or by it, as the pages count them
    (server/publish/figures.py), not the derived propositions that share rdf:subject/rdf:object."""
    def mentions(typed: str) -> int:
        query = f"""PREFIX rdf: <{PREFIXES['rdf']}> PREFIX arkg: <{ARKG}>
            SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c rdf:subject|rdf:object|arkg:claimant <{MASSOUD}> {typed} }}"""
        return int(next(store.query(query, use_default_graph_as_union=True))["n"].value)

    hit = index.entities("Ahmad Massoud").hits[0]
    assert hit.iri == MASSOUD
    assert hit.claims == mentions("; a arkg:Claim") < mentions("")  # propositions mention him too


def test_the_index_needs_no_derived_graph(store, index, tmp_path):
    """`arkg build` makes the index beside derive, over the files' graphs alone
    (server/publish/build.py): it must come out as over the whole dataset."""
    from server.publish.build import DERIVED_GRAPHS

    files = [f for f in dataset_files() if f.graph not in DERIVED_GRAPHS]
    assert len(files) < len(dataset_files())
    path = tmp_path / "search.sqlite"
    build_search_index(load_store(files, ox.Store()), path)

    def rows(db_path, table):
        db = sqlite3.connect(db_path)
        try:
            return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        finally:
            db.close()

    for table in ("entities", "names", "quotes"):
        assert rows(path, table) == rows(index.path, table), table


def test_saleh_finds_amrullah_saleh_first(index):
    hit = index.entities("saleh").hits[0]
    assert (hit.iri, hit.label, hit.kind) == (ID + "person/amrullah-saleh", "Amrullah Saleh", "person")
    assert hit.claims > 0 and hit.description


def test_panjshir_finds_province_and_valley_apart(index):
    iris = _iris(index.entities("panjshir", limit=10))
    assert ID + "place/panjshir-province" in iris and ID + "place/panjshir-valley" in iris
    places = index.entities("panjshir", kind="place", limit=10).hits
    assert {h.kind for h in places} == {"place"}
    assert [h.iri for h in places][:2] == [ID + "place/panjshir-province", ID + "place/panjshir-valley"]


def test_type_ahead_prefixes_and_identifiers(index):
    assert _iris(index.entities("ahmad mas"))[0] == MASSOUD
    assert _iris(index.entities("amrul"))[0] == ID + "person/amrullah-saleh"
    hit = index.entities("ahmad-massoud").hits[0]
    assert hit.iri == MASSOUD


def test_every_quote_finds_its_claim(store, index):
    query = f"""PREFIX arkg: <{ARKG}> PREFIX oa: <{PREFIXES['oa']}>
        SELECT ?claim ?quote WHERE {{ ?claim arkg:evidence/oa:hasSelector/oa:exact ?quote }}"""
    rows = [(r["claim"].value, r["quote"].value) for r in store.query(query, use_default_graph_as_union=True)]
    assert len(rows) > 100
    misses = [(claim, quote) for claim, quote in rows if claim not in [h.claim for h in index.quotes(quote[:200], limit=50).hits]]
    assert misses == []


def test_quote_hits_highlight_the_words_found(index):
    hit = index.quotes("denied that Massoud was there").hits[0]
    assert "denied that Massoud was there" in hit.quote
    marked = {text.lower() for text, on in hit.snippet if on}
    assert {"denied", "massoud", "there"} <= marked
    assert "".join(text for text, _ in hit.snippet).replace("…", "") in hit.quote


@pytest.mark.parametrize("text", ['"', '"Massoud', "Massoud*", "NEAR(Massoud Saleh)", "-Massoud", "title:Massoud",
                                  "Massoud OR", "AND", "'; DROP TABLE names; --", "^Massoud", "(", "*"])
def test_fts_and_sql_syntax_is_searched_as_text_never_an_error(index, text):
    index.entities(text)
    index.quotes(text)


def test_syntax_around_a_name_still_finds_it(index):
    assert _iris(index.entities('"Massoud'))[0] == MASSOUD
    assert _iris(index.entities("Massoud*"))[0] == MASSOUD


@pytest.mark.parametrize("text", ["?!", "...", "—", "''"])
def test_only_punctuation_finds_nothing(index, text):
    assert index.entities(text).hits == [] and index.quotes(text).hits == []


@pytest.mark.parametrize("text, message", [("", "Give something"), ("   ", "Give something"),
                                           ("x" * 201, "at most 200"), ("a\x00b", "NUL")])
def test_bad_queries_are_refused_with_what_to_fix(index, text, message):
    with pytest.raises(BadSearch, match=message):
        index.entities(text)
    with pytest.raises(BadSearch, match=message):
        index.quotes(text)


def test_bad_type_limit_page_are_refused(index):
    with pytest.raises(BadSearch, match="Unknown type"):
        index.entities("x", kind="claim")
    with pytest.raises(BadSearch, match="limit"):
        index.entities("x", limit=51)
    with pytest.raises(BadSearch, match="page"):
        index.entities("x", page=0)


def test_pages_follow_one_another(index):
    first, second = index.entities("a", limit=5), index.entities("a", limit=5, page=2)
    assert first.more and len(first.hits) == 5 and second.offset == 5
    assert not set(_iris(first)) & set(_iris(second))
    assert _iris(index.entities("a", limit=10))[:10] == _iris(first) + _iris(second)


# --- ranking, on a store made for it


def _entity(store, slug, label, *, aliases=(), claims=0):
    g = ox.NamedNode(ID.replace("/id/", "/graph/") + "entities")
    s = ox.NamedNode(ID + "person/" + slug)
    store.add(ox.Quad(s, ox.NamedNode(PREFIXES["rdf"] + "type"), ox.NamedNode(ARKG + "Person"), g))
    store.add(ox.Quad(s, ox.NamedNode(PREFIXES["rdfs"] + "label"), ox.Literal(label, language="en"), g))
    for alias in aliases:
        store.add(ox.Quad(s, ox.NamedNode(PREFIXES["skos"] + "altLabel"), ox.Literal(alias, language="en"), g))
    for i in range(claims):
        claim = ox.NamedNode(f"{ID}claim/{slug}-c{i}")
        store.add(ox.Quad(claim, ox.NamedNode(PREFIXES["rdf"] + "type"), ox.NamedNode(ARKG + "Claim"), g))
        store.add(ox.Quad(claim, ox.NamedNode(PREFIXES["rdf"] + "subject"), s, g))


def test_ranking_exact_folded_prefix_substring_fuzzy_then_claims(tmp_path):
    store = ox.Store()
    # the more claims, the worse the spelling: popularity only orders within a rank
    _entity(store, "p-exact", "Karzai", claims=1)
    _entity(store, "p-folded", "Someone", aliases=["KÁRZAI"], claims=2)
    _entity(store, "p-prefix", "Karzaiwala", claims=3)
    _entity(store, "p-prefix-popular", "Karzai Popular", claims=4)
    _entity(store, "p-substring", "Mkarzaib", claims=5)
    _entity(store, "p-fuzzy", "Karzay", claims=6)
    _entity(store, "p-unrelated", "Rahmon", claims=9)
    build_search_index(store, tmp_path / "search.sqlite")
    page = index_at(tmp_path / "search.sqlite").entities("Karzai", limit=10)
    assert [(h.iri.rsplit("/", 1)[1], h.rank) for h in page.hits] == [
        ("p-exact", "exact"), ("p-folded", "folded"), ("p-prefix-popular", "prefix"), ("p-prefix", "prefix"),
        ("p-substring", "substring"), ("p-fuzzy", "fuzzy")]
    assert page.hits[1].match_text == "KÁRZAI" and page.hits[1].match_source == "alias"
    assert [h.claims for h in page.hits] == [1, 2, 4, 3, 5, 6]


def test_a_rebuild_replaces_the_index_and_readers_see_it(tmp_path):
    path = tmp_path / "search.sqlite"
    store = ox.Store()
    _entity(store, "first", "Firstname")
    build_search_index(store, path)
    assert _iris(index_at(path).entities("Firstname")) == [ID + "person/first"]
    _entity(store, "second", "Secondname")
    build_search_index(store, path)
    assert _iris(index_at(path).entities("Secondname")) == [ID + "person/second"]
    assert [p.name for p in tmp_path.iterdir()] == ["search.sqlite"]  # no temporary file left behind


def test_indexes_of_old_builds_are_let_go(tmp_path):
    import server.views.search as views

    store = ox.Store()
    _entity(store, "someone", "Someone")
    opened = []
    for n in range(4):  # four builds, as four reloads leave them
        build_search_index(store, tmp_path / f"v{n}" / "search.sqlite")
        opened.append(index_at(tmp_path / f"v{n}" / "search.sqlite"))
        opened[-1].entities("Someone")
    kept = [index for _, index in views._open.values()]
    assert len(kept) <= 2 and opened[-1] in kept and opened[0] not in kept


def test_a_missing_index_says_to_run_the_build(tmp_path):
    with pytest.raises(IndexMissing, match="arkg build"):
        index_at(tmp_path / "search.sqlite")
    (tmp_path / "search.sqlite").write_text("not a database")
    with pytest.raises(IndexMissing, match="arkg build"):
        index_at(tmp_path / "search.sqlite")
