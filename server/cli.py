"""The ``arkg`` command line: one typer app, one subcommand per job.

Each subcommand is thin: it parses flags into Settings and calls the module that does
the work, so the same work is reachable from tests without a shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="ARKG, the Afghan Resistance Knowledge Graph.", no_args_is_help=True,
                  add_completion=False)



@app.callback()
def main() -> None:
    """ARKG, the Afghan Resistance Knowledge Graph: build, validate, query and serve it."""


CorpusOption = typer.Option(None, "--corpus", help="Directory holding the seed article texts "
                            "(default: ../shared/seeds beside the checkout).")


@app.command()
def curate(corpus: Optional[Path] = CorpusOption,
           check: bool = typer.Option(False, "--check", help="Only check that the generated Turtle is up to date; exit 1 if not.")) -> None:
    """Compile graphs/curation/*.yaml into Turtle, computing quote offsets, prefix/suffix and proposition IRIs."""
    from . import curation, paths

    corpus = corpus or paths.default_corpus_dir()
    if not corpus.is_dir():
        typer.echo(f"corpus directory {corpus} not found; pass --corpus DIR", err=True)
        raise typer.Exit(2)
    try:
        outputs = curation.compile_all(paths.graphs_dir() / "curation", corpus, paths.graphs_dir())
    except curation.CurationError as exc:
        typer.echo(f"curation error: {exc}", err=True)
        raise typer.Exit(1)
    if check:
        stale = [o.path for o in outputs if not o.path.exists() or o.path.read_text(encoding="utf-8") != o.text]
        for path in stale:
            typer.echo(f"out of date: {path}", err=True)
        raise typer.Exit(1 if stale else 0)
    for path in curation.write(outputs):
        typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
