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


def _check_or_write(outputs, *, check: bool, fix: str) -> None:
    """Generated files: with --check list the stale ones and exit 1 if any; else write them."""
    from server.pipeline import curate as curation

    if check:
        stale = curation.stale(outputs)
        for path in stale:
            typer.echo(f"out of date: {path} (run `{fix}`)", err=True)
        raise typer.Exit(1 if stale else 0)
    for path in curation.write(outputs):
        typer.echo(f"{'wrote' if path.exists() else 'deleted'} {path}")


@app.command()
def curate(corpus: Optional[Path] = CorpusOption,
           check: bool = typer.Option(False, "--check", help="Only check that the generated Turtle is up to date; exit 1 if not.")) -> None:
    """Compile graphs/curation/*.yaml into Turtle, computing quote offsets, prefix/suffix and proposition IRIs."""
    from server.pipeline import curate as curation
    from server import paths

    corpus = corpus or paths.default_corpus_dir()
    if not corpus.is_dir():
        typer.echo(f"corpus directory {corpus} not found; pass --corpus DIR", err=True)
        raise typer.Exit(2)
    try:
        outputs = curation.compile_all(paths.graphs_dir() / "curation", corpus, paths.graphs_dir())
    except curation.CurationError as exc:
        typer.echo(f"curation error: {exc}", err=True)
        raise typer.Exit(1)
    _check_or_write(outputs, check=check, fix="arkg curate")


@app.command()
def validate(corpus: Optional[Path] = typer.Option(None, "--corpus", help="Also check each article's SHA-256 and every quote at its offsets against the texts in DIR."),
             data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/ (default: the package's)."),
             reference: bool = typer.Option(False, "--reference", help="Run every constraint through pyshacl, SPARQL ones too (slow; for cross-checking).")) -> None:
    """Validate the data against the SHACL shapes; print a report; exit 1 on any violation."""
    from server.validation.run import validate as run_validation

    if corpus is not None and not corpus.is_dir():
        typer.echo(f"corpus directory {corpus} not found", err=True)
        raise typer.Exit(2)
    result = run_validation(data_dir, corpus=corpus, reference=reference)
    typer.echo(result.text)
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def derive(check: bool = typer.Option(False, "--check", help="Only check that the derived files are up to date; exit 1 if not."),
           data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/ (default: the package's).")) -> None:
    """Build graphs/derived/propositions.ttl and graphs/asserted/asserted.ttl from the claims."""
    from server.pipeline import derive as derivation

    try:
        outputs = derivation.derive_outputs(data_dir)
        pairs = derivation.time_separated_pairs(derivation.propositions(data_dir)[0])
    except derivation.DeriveError as exc:
        typer.echo(f"derive error: {exc}", err=True)
        raise typer.Exit(1)
    # for curator review: a denial about another time than the assertion (not counted against it)
    for prop, support, denial in pairs:
        typer.echo(f"review (times do not overlap): {denial} denies, {support} asserts; {prop}", err=True)
    _check_or_write(outputs, check=check, fix="arkg derive")


@app.command()
def stats(data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/ (default: the package's).")) -> None:
    """Claims, propositions by status, entities by type, speakers, external links, per article."""
    from rich.console import Console

    from server.pipeline import stats as statistics

    statistics.render(statistics.collect(data_dir), Console())


def _settings(**flags):
    """Settings from ARKG_* variables, overridden by the flags actually given."""
    from server.settings import Settings

    return Settings(**{k: v for k, v in flags.items() if v is not None})


@app.command()
def serve(host: Optional[str] = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
          port: Optional[int] = typer.Option(None, help="TCP port (default 8000)."),
          workers: Optional[int] = typer.Option(None, help="uvicorn worker processes (default 1)."),
          store: Optional[Path] = typer.Option(None, help="Open this on-disk store read-only instead of the build's (default: the build of --data-dir, made first if missing)."),
          remote: Optional[str] = typer.Option(None, "--remote", help="Use this external SPARQL 1.1 endpoint instead of the embedded store."),
          public_url: Optional[str] = typer.Option(None, help="The URL clients reach this server at (behind a proxy)."),
          query_timeout: Optional[float] = typer.Option(None, help="Seconds before a query is stopped (default 30)."),
          query_workers: Optional[int] = typer.Option(None, help="Query worker processes per server process (default 2)."),
          data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/ (default: the package's).")) -> None:
    """Serve the dataset: SPARQL endpoint, entity pages and dumps (builds and validates the data first if needed)."""
    import os

    from server.web import serving

    serving.ignore_reload_requests()  # from now on, SIGHUP reloads or waits; it never ends the server
    settings = _settings(host=host, port=port, workers=workers, store=store, remote_endpoint=remote,
                         public_url=public_url, query_timeout=query_timeout, query_workers=query_workers,
                         data_dir=data_dir)
    if public_url is None and (host or port) and "ARKG_PUBLIC_URL" not in os.environ:
        settings = settings.model_copy(update={"public_url": f"http://{settings.host}:{settings.port}/"})
    if not settings.store and not settings.remote_endpoint:
        _ensure_build(settings)  # every process then opens the build's store read-only
    os.environ.update(settings.to_env())  # every uvicorn worker process builds the same Settings
    serving.run(settings)  # uvicorn, with SIGHUP reloads and X-Forwarded-For trust from settings


@app.command()
def load(into: str = typer.Option(..., "--into", help="The engine's SPARQL query endpoint (verifies counts), e.g. http://host:8890/sparql."),
         graph_store: Optional[str] = typer.Option(None, "--graph-store", help="Its Graph Store Protocol endpoint (default: derived from --into for Virtuoso, Oxigraph, Fuseki, GraphDB)."),
         user: Optional[str] = typer.Option(None, "--user", help="User for HTTP (digest) authentication; the password comes from ARKG_LOAD_PASSWORD."),
         build_dir: Optional[Path] = typer.Option(None, help="The build to load (default: settings.build_dir); without a store there, the data files."),
         data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/ when there is no build."),
         chunk: int = typer.Option(50_000, "--chunk", min=1, help="Triples per request."),
         state: Optional[Path] = typer.Option(None, "--state", help="Resume-state file (default: var/load/<hash of the Graph Store URL>.json)."),
         fresh: bool = typer.Option(False, "--fresh", help="Ignore an earlier run's state and load every graph again.")) -> None:
    """Push every named graph of a build into a SPARQL 1.1 engine (Graph Store Protocol), resumably, then verify counts."""
    from server.publish import load as loading
    from server.engine.dataset import DatasetError

    settings = _settings(build_dir=build_dir, data_dir=data_dir)
    password = settings.load_password.get_secret_value() if settings.load_password else None
    if user and password is None:
        typer.echo("--user needs the password in the environment variable ARKG_LOAD_PASSWORD", err=True)
        raise typer.Exit(2)
    try:
        target = loading.Target(into, graph_store or loading.graph_store_url(into), user, password)
        source = loading.open_source(build_dir=settings.build_dir, data_dir=settings.data_dir)
    except (loading.LoadError, DatasetError, OSError) as exc:
        typer.echo(f"cannot load: {exc}", err=True)
        raise typer.Exit(2)
    try:
        report = loading.load(source, target, state_path=state or loading.default_state_path(target),
                              chunk_triples=chunk, fresh=fresh, timeout=max(settings.query_timeout, 300.0))
    except loading.LoadError as exc:
        typer.echo(f"load failed: {exc}", err=True)
        raise typer.Exit(1)
    finally:
        source.close()
    typer.echo(loading.summary(report))
    if report.mismatches:
        typer.echo("the engine does not hold what was sent (graph: expected, found): " + "; ".join(
            f"{g}: {n}, {m}" for g, (n, m) in report.mismatches.items()) + ". Run again with --fresh.", err=True)
        raise typer.Exit(1)


@app.command()
def reload(pid: int = typer.Argument(..., help="PID of the `arkg serve` process."),
           url: Optional[str] = typer.Option(None, help="This server's URL: wait for the outcome in /health and print it.")) -> None:
    """Reload the data of a running server (SIGHUP): validated first; if it fails, the last good data keeps serving."""
    import json

    from server.web.reload import request_reload

    try:
        outcome = request_reload(pid, url)
    except (ProcessLookupError, PermissionError) as exc:
        typer.echo(f"cannot signal process {pid}: {exc}", err=True)
        raise typer.Exit(2)
    if outcome is not None:
        typer.echo(json.dumps(outcome, indent=2))
        raise typer.Exit(0 if outcome.get("status") == "ok" else 1)


@app.command()
def query(sparql: str = typer.Argument(..., help="The SPARQL query (SELECT, ASK, CONSTRUCT or DESCRIBE)."),
          format: str = typer.Option("tsv", "--format", "-f", help="json|csv|tsv|xml for SELECT/ASK; ttl|nt|jsonld|rdf|trig|nq for CONSTRUCT/DESCRIBE."),
          data_dir: Optional[Path] = typer.Option(None, help="Directory with ontology/, graphs/, shapes/."),
          store: Optional[Path] = typer.Option(None, help="A prebuilt on-disk store to query instead.")) -> None:
    """Run one query against the dataset and print the results."""
    import sys

    from server.model import formats
    from server.sparql import guard
    from server.engine import dataset
    from server.engine.worker import QueryRequest, execute, open_store, StoreSpec

    settings = _settings(data_dir=data_dir, store=store)
    try:
        guard.check(guard.analyse(sparql), allowed_services=settings.allowed_service_endpoints)
        fmt = formats.by_name(format)
    except (guard.GuardError, formats.UnknownFormat) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    is_graph = fmt in formats.GRAPH
    if settings.store:
        spec = StoreSpec(disk_path=str(settings.store))
    else:
        spec = StoreSpec(files=tuple(dataset.dataset_files(settings.data_dir)))
    request = QueryRequest(sparql, "tsv" if is_graph else fmt.name, fmt.name if is_graph else "ttl")
    try:
        kind, produced, body = execute(open_store(spec), request, max_bytes=settings.max_result_bytes)
    except SyntaxError as exc:
        typer.echo(f"SPARQL syntax error: {exc}", err=True)
        raise typer.Exit(2)
    if produced != fmt.name:
        typer.echo(f"--format {format} does not fit a {kind} result; use "
                   + ("json|csv|tsv|xml" if is_graph else "ttl|nt|jsonld|rdf|trig|nq"), err=True)
        raise typer.Exit(2)
    sys.stdout.buffer.write(body)


@app.command("build")
def build(data_dir: Optional[Path] = typer.Option(None, help="Directory with graphs/ (and ontology/, shapes/; the package's where absent)."),
          out: Optional[Path] = typer.Option(None, "--out", help="Build area (default: settings.build_dir, var/build); the build goes to DIR/<version>/."),
          corpus: Optional[Path] = typer.Option(None, "--corpus", help="Also check each quote and hash against the article texts in DIR."),
          force: bool = typer.Option(False, "--force", help="Rebuild even if this version's build exists.")) -> None:
    """Build what the server serves: derive, on-disk store, validation, dumps, VoID/DCAT, figures, search index."""
    from rich.console import Console

    from server.engine.dataset import DatasetError
    from server.publish import build as builder

    settings = _settings(data_dir=data_dir, build_dir=out)
    console = Console(stderr=True)
    try:
        result = builder.build(settings.build_dir, settings.data_dir, base_iri=settings.base_iri,
                               cache_dir=settings.cache_dir, corpus=corpus, force=force, console=console)
    except (builder.BuildFailed, DatasetError, OSError) as exc:
        typer.echo(f"build failed, nothing written: {exc}", err=True)
        raise typer.Exit(1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.built:
        console.print(builder.summary_table(result))
    typer.echo(f"version {result.version} {'built' if result.built else 'is up to date'} in {result.layout.root}")


@app.command()
def synth(triples: int = typer.Option(..., "--triples", help="About how many triples to write."),
          out: Path = typer.Option(..., "--out", help="A new data directory (graphs/<name>/bench.nq); never the published data."),
          seed: int = typer.Option(42, "--seed", help="Random seed: the same seed and size give the same files.")) -> None:
    """Write a synthetic claims dataset in ARKG's model, for benchmarks (`arkg build --data-dir DIR` builds it)."""
    import json

    from server.pipeline import synth as synthetic

    try:
        summary = synthetic.generate(triples, out, seed)
    except synthetic.SynthError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "query_entities"}))


def _ensure_build(settings) -> None:
    """Build the served data into settings.build_dir unless an up-to-date build is there
    (here, in the command's process: the web server never builds)."""
    from rich.console import Console

    from server.engine.dataset import DatasetError
    from server.publish import build as builder

    if builder.current(settings.build_dir, settings.data_dir) is not None:
        return
    typer.echo(f"building the data into {settings.build_dir} first (`arkg build`)", err=True)
    try:
        result = builder.build(settings.build_dir, settings.data_dir, base_iri=settings.base_iri,
                               cache_dir=settings.cache_dir, validate=settings.validate_on_start,
                               console=Console(stderr=True))
    except (builder.BuildFailed, DatasetError, OSError) as exc:
        typer.echo(str(exc), err=True)
        typer.echo("Refusing to serve data that cannot be built and validated (see above).", err=True)
        raise typer.Exit(1)
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)


if __name__ == "__main__":
    app()
