"""Geometry for the pictures: where each mark, cell, node and edge goes (no markup, no queries).

The SVG itself is written by the templates in ``templates/pictures/`` (autoescaped Jinja2);
this module turns the data of ``server.views.pictures`` into coordinates, and into CSV.
Layouts are deterministic: the same data gives the same picture (networkx, fixed seed).
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from urllib.parse import urlencode

import networkx as nx

from server.engine.backend import Backend
from server.model.urls import UrlMap
from server.views import per_version
from server.views.pictures import meetings, timeline, who_says
from server.views.pictures.common import STATUS_WORDS, Scope, clamp
from server.web.templating import render

NAMES = ("timeline", "who-says-what", "meetings")
TITLES = {"timeline": "Timeline", "who-says-what": "Who says what", "meetings": "The web of meetings"}
CHAR = 6.4  # average width of one character at the pictures' 11px sans-serif, for layout
SEED = 7  # networkx layout seed: same data, same picture


def clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


@dataclass
class Figure:
    """One picture ready for a template: its kind, data, geometry, size and where it came from."""
    name: str  # timeline, who-says-what, meetings
    data: object  # the view's dataclass
    width: int
    height: int
    about: str | None
    geometry: dict = field(default_factory=dict)

    @property
    def title(self) -> str:
        return TITLES[self.name]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.data.columns

    def table(self) -> list[dict[str, str]]:
        return self.data.rows() if self.name == "timeline" else self.data.table()

    def params(self, **override) -> str:
        """The query string selecting this picture (same for .svg, .csv and the page)."""
        values = {"about": self.about, "limit": self.data.limit, **override}
        return urlencode({k: v for k, v in values.items() if v is not None})


# --- timeline

LANE_H, DATE_W, LABEL_W, TOP, MARK_STEP, MAX_MARKS = 24, 66, 230, 58, 11, 5


def timeline_figure(data: timeline.Timeline, about: str | None) -> Figure:
    col = {w: i for i, w in enumerate(data.dates)}
    first_unyeared = next((i for i, w in enumerate(data.dates) if w.year is None), None)
    gap = 16 if first_unyeared not in (None, 0) else 0  # space between the dated years and the "year not stated" band

    def x_of(i: int) -> float:
        return LABEL_W + i * DATE_W + (gap if first_unyeared is not None and i >= first_unyeared else 0) + DATE_W / 2

    lanes = []
    for li, lane in enumerate(data.lanes):
        y = TOP + li * LANE_H + LANE_H / 2
        cells: dict[int, list] = {}
        for m in lane.marks:
            cells.setdefault(col[m.when], []).append(m)
        marks, overflow = [], []
        for i, ms in cells.items():
            shown = ms[:MAX_MARKS]
            start = x_of(i) - (len(shown) - 1) * MARK_STEP / 2
            marks += [(start + k * MARK_STEP, y, m) for k, m in enumerate(shown)]
            if len(ms) > MAX_MARKS:
                overflow.append((x_of(i) + DATE_W / 2 - 2, y + 4, len(ms) - MAX_MARKS))
        lanes.append({"lane": lane, "y": y, "label": clip(lane.label, 34), "marks": marks, "overflow": overflow})
    ticks = [{"x": x_of(i), "text": w.short, "full": w.text} for i, w in enumerate(data.dates)]
    band = None
    if first_unyeared is not None:
        band = {"x": x_of(first_unyeared) - DATE_W / 2, "width": x_of(len(data.dates) - 1) - x_of(first_unyeared) + DATE_W}
    width = int(max(x_of(len(data.dates) - 1) + DATE_W / 2 + 24, 480)) if data.dates else 480
    height = TOP + max(1, len(data.lanes)) * LANE_H + 48
    return Figure("timeline", data, width, height, about,
                  {"lanes": lanes, "ticks": ticks, "band": band, "legend_y": height - 22, "label_w": LABEL_W})


# --- who says what

ROW_H, COL_W, ROW_LABEL_W, HEAD_H = 24, 26, 380, 150


def matrix_figure(data: who_says.Matrix, about: str | None) -> Figure:
    columns = [{"speaker": s, "x": ROW_LABEL_W + i * COL_W + COL_W / 2, "label": clip(s.label, 26), "full": s.label}
               for i, s in enumerate(data.speakers)]
    x_of = {c["speaker"].iri: c["x"] for c in columns}
    rows = []
    for ri, row in enumerate(data.rows):
        y = HEAD_H + ri * ROW_H + ROW_H / 2
        cells = []
        for speaker, claims in row.cells.items():
            if speaker not in x_of:
                continue
            shown = claims[:3]
            start = x_of[speaker] - (len(shown) - 1) * 7 / 2
            who = next(c["full"] for c in columns if c["speaker"].iri == speaker)
            cells += [(start + k * 7, y, c, len(shown), who) for k, c in enumerate(shown)]
        rows.append({"row": row, "y": y, "label": clip(row.label, 52), "status": STATUS_WORDS.get(row.status, ""),
                     "cells": cells})
    width = ROW_LABEL_W + max(1, len(columns)) * COL_W + 110
    height = HEAD_H + max(1, len(data.rows)) * ROW_H + 44
    return Figure("who-says-what", data, width, height, about,
                  {"columns": columns, "rows": rows, "legend_y": height - 20, "grid_right": ROW_LABEL_W + len(columns) * COL_W})


# --- the web of meetings

NET_W, MARGIN_X, MARGIN_Y = 860, 100, 20
STATUS_STYLE = {  # (dash pattern, stroke width): readable without colour
    "Uncontested": ("", 3.0), "SingleSource": ("7 4", 1.8), "Contested": ("10 3 2 3", 3.0),
    "OnlyDenied": ("1.5 4", 2.2), "OnlyQuestioned": ("1.5 4", 1.2), "": ("", 1.0)}


def _layout(graph: nx.Graph) -> tuple[dict[str, tuple[float, float]], int]:
    """Positions for every node, and the height used: each connected part laid out on its own
    (networkx spring layout, fixed seed) in a square sized by its node count, the squares
    packed in rows, largest first, so small parts do not crush the big one into a corner."""
    parts = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c[0]))
    at: dict[str, tuple[float, float]] = {}
    x = y = row_h = 0.0
    for part in parts:
        side = min(NET_W - 2 * MARGIN_X, max(300, 150 * len(part) ** 0.5))  # room for two labels side by side
        if x and x + side > NET_W - 2 * MARGIN_X:
            x, y, row_h = 0.0, y + row_h, 0.0
        sub = graph.subgraph(part)
        if len(part) <= 3:  # fixed shapes (a spring layout per tiny part costs ~20 ms each), in a short strip
            shape = {1: [(0.5, 0.5)], 2: [(0.2, 0.5), (0.8, 0.5)], 3: [(0.5, 0.0), (0.0, 1.0), (1.0, 1.0)]}[len(part)]
            order = sorted(part, key=lambda iri: (-sub.degree(iri), iri))
            fractions = dict(zip(order, shape))
            height = 80
        else:
            pos = nx.spring_layout(sub, seed=SEED, k=1.6 / len(part) ** 0.5, iterations=100)
            xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
            fractions = {iri: ((px - min(xs)) / (max(xs) - min(xs)) if max(xs) > min(xs) else 0.5,
                               (py - min(ys)) / (max(ys) - min(ys)) if max(ys) > min(ys) else 0.5)
                         for iri, (px, py) in pos.items()}
            height = side
        for iri, (fx, fy) in fractions.items():
            at[iri] = (round(MARGIN_X + x + 20 + fx * (side - 40), 1), round(MARGIN_Y + y + 20 + fy * (height - 40), 1))
        x, row_h = x + side, max(row_h, height)
    return at, int(y + row_h + 2 * MARGIN_Y)


def network_figure(data: meetings.Network, about: str | None) -> Figure:
    graph = nx.Graph()
    for node in sorted(data.nodes, key=lambda n: n.iri):
        graph.add_node(node.iri)
    for e in sorted(data.edges, key=lambda e: (e.subject, e.predicate, e.object)):
        graph.add_edge(e.subject, e.object)
    at, used = _layout(graph)
    height = max(used, 160)
    seen_pairs: dict[frozenset, int] = {}
    edges = []
    for e in data.edges:
        (x1, y1), (x2, y2) = at[e.subject], at[e.object]
        pair = frozenset((e.subject, e.object))
        k = seen_pairs[pair] = seen_pairs.get(pair, -1) + 1  # parallel edges: offset their labels
        dash, width = STATUS_STYLE.get(e.status, STATUS_STYLE[""])
        edges.append({"edge": e, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "dash": dash, "width": width,
                      "mx": (x1 + x2) / 2, "my": (y1 + y2) / 2 - 4 + 11 * k,
                      "status": STATUS_WORDS.get(e.status, "")})
    nodes = [{"node": n, "x": at[n.iri][0], "y": at[n.iri][1], "label": clip(n.label, 28), "centre": n.iri == data.centre}
             for n in data.nodes]
    return Figure("meetings", data, NET_W, height + 40, about, {"edges": edges, "nodes": nodes, "legend_y": height + 18,
                                                             "styles": STATUS_STYLE})


# --- gathering and output

async def figure(backend: Backend, name: str, *, about: str | None = None, is_event: bool = False,
                 limit: int | None = None) -> Figure:
    """One picture: its data from the views, then its geometry."""
    scope = Scope(about)
    if name == "timeline":
        return timeline_figure(await timeline.gather(backend, scope, by_speaker=is_event, limit=limit), about)
    if name == "who-says-what":
        return matrix_figure(await who_says.gather(backend, scope, limit=limit), about)
    if name == "meetings":
        return network_figure(await meetings.gather(backend, scope, limit=limit), about)
    raise KeyError(name)


def query_of(name: str, *, about: str | None = None, is_event: bool = False, limit: int | None = None) -> str:
    """The SPARQL query that gives a picture its data (the one ``figure`` runs)."""
    scope, limit = Scope(about), clamp(limit)
    if name == "timeline":
        return timeline.query(scope, by_speaker=is_event)
    if name == "who-says-what":
        return who_says.query(scope, limit=limit)
    if name == "meetings":
        return meetings.query(scope, limit=limit)
    raise KeyError(name)


async def for_home(backend: Backend) -> list[Figure]:
    """The home page's pictures: the same for every request of a dataset version, so computed once
    per version per process (charged to the client whose request computed them)."""
    async def compute() -> list[Figure]:
        return list(await asyncio.gather(figure(backend, "timeline"), figure(backend, "meetings")))

    return await per_version.cache.get((backend.info.version, "pictures", "home"), compute)


async def for_thing(backend: Backend, iri: str, kind: str) -> list[Figure]:
    """The pictures of an entity's page (none for claims, propositions and sources)."""
    if kind in ("claim", "proposition", "article", "comment"):
        return []
    # Side by side: each picture's queries wait on their own worker, not on the other pictures.
    return list(await asyncio.gather(figure(backend, "timeline", about=iri, is_event=kind == "event"),
                                     figure(backend, "who-says-what", about=iri), figure(backend, "meetings", about=iri)))


async def render_svg(fig: Figure, urls: UrlMap) -> str:
    """The picture as a standalone SVG document (links absolute, styles inside, no fonts fetched)."""
    body = await render(f"pictures/{fig.name}.svg", fig=fig, urls=urls, fig_id=f"pic-{fig.name}")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body.lstrip()


def to_csv(fig: Figure) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fig.columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(fig.table())
    return out.getvalue()


