"""All configuration, in one place: one pydantic-settings object.

Values come from (highest first) command-line flags (``arkg serve`` passes them on as
``ARKG_*`` variables so that every uvicorn worker process sees the same settings),
``ARKG_*`` environment variables, then the defaults below. Nothing reads the
environment at import time: :func:`get_settings` is called when an app or command starts.

>>> Settings(query_timeout=5).query_timeout
5.0
>>> Settings(public_url="http://example.org/arkg").public_url
'http://example.org/arkg/'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARKG_", extra="ignore")

    # --- serving
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, description="TCP port to listen on.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    public_url: str = Field("http://127.0.0.1:8000/", description="The URL clients use to reach this server "
                            "(behind a proxy: the proxy's URL). Redirects, Service Description, VoID and pages use it.")
    base_iri: str = Field("https://w3id.org/arkg/", description="Canonical IRI base of the data; public_url is mapped onto it.")

    # --- data
    data_dir: Optional[Path] = Field(None, description="Directory holding ontology/, graphs/, shapes/ (default: the package's).")
    store: Optional[Path] = Field(None, description="An on-disk pyoxigraph store to open read-only instead of the build's (`arkg build` makes one: <build_dir>/<version>/store).")
    remote_endpoint: Optional[str] = Field(None, description="URL of an external SPARQL 1.1 endpoint to use instead of the embedded store.")
    load_password: Optional[SecretStr] = Field(None, description="Password `arkg load --user U` sends to the engine's "
                                               "Graph Store endpoint (only from ARKG_LOAD_PASSWORD, never a flag).")
    build_dir: Path = Field(Path("var/build"), description="The build area: `arkg build` writes the store, dumps, VoID, "
                            "figures and search index of each dataset version to <build_dir>/<version>/, and the server "
                            "reads the build of the version it serves (server/model/build_layout.py).")
    validate_on_start: bool = Field(True, description="Refuse to serve data that fails SHACL validation.")
    cache_dir: Path = Field(Path("var/cache"), description="Where `arkg serve` remembers dataset versions that passed validation.")

    # --- query execution
    query_timeout: float = Field(30.0, gt=0, description="Seconds a query may run before its worker is killed.")
    query_workers: int = Field(2, ge=1, description="Query worker processes per server process.")
    query_preempt_after: float = Field(0.5, gt=0, description="Fair share: when every query worker is busy, a waiting "
                                       "query stops the running query of the client that used most query time lately, "
                                       "once that client is this many seconds ahead (503 naming the reason; "
                                       "server/engine/pool.py).")
    query_spare_workers: Optional[int] = Field(None, ge=0, description="Idle query workers kept loaded beyond "
                                               "query_workers, so the query after a stopped one need not wait for a "
                                               "replacement to load the dataset. Unset: 1 over files loaded into "
                                               "memory (loading takes seconds), 0 over an on-disk store (a replacement "
                                               "opens it in about 10 ms, and an idle spare made every query cost 25% "
                                               "more CPU at 5M triples: server/engine/backend.py).")
    worker_memory_mb: int = Field(4096, ge=0, description="Address-space limit of each query worker in MiB (0: none); "
                                  "a query that needs more fails cleanly instead of exhausting the machine.")
    inline_max_bytes: int = Field(16 * 1024, ge=0, description="Bounded lookups (one triple pattern with a constant "
                                  "subject or object: server/sparql/bounded.py) whose result fits in this many bytes are "
                                  "answered in the server process, without a worker round trip. 0: off, and no in-process "
                                  "copy of an in-memory dataset.")
    max_result_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest serialised query result returned.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest request body accepted (413 above).")
    body_timeout: float = Field(30.0, gt=0, description="Seconds a POST body may take to arrive (408 after).")
    allowed_service_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="SERVICE targets allowed in queries (comma-separated in ARKG_ALLOWED_SERVICE_ENDPOINTS). Empty: SERVICE refused.")

    # --- per-client limits (see SECURITY.md)
    rate_limit: bool = Field(True, description="Per-client budgets of query time and concurrent expensive queries.")
    client_query_seconds_per_minute: float = Field(60.0, gt=0, description="Query processing time one client may use per minute.")
    client_max_concurrent: int = Field(4, ge=1, description="Concurrent queries one client may have in flight "
                                       "(with the embedded store at most query_workers - 1, so one client never holds them all).")
    client_queue_seconds: float = Field(2.0, ge=0, description="How long a query over its client's concurrency waits "
                                        "for one of that client's queries to finish before 429.")
    forwarded_allow_ips: str = Field("", description="Comma-separated addresses of reverse proxies whose "
                                     "X-Forwarded-For names the client (per-client limits); empty: trust no one, "
                                     "the TCP peer is the client. '*' trusts everyone (never on a public port).")
    metrics: bool = Field(True, description="Serve /metrics (Prometheus text format).")
    metrics_dir: Optional[Path] = Field(None, description="Directory of prometheus_client's per-process files, "
                                        "emptied at start (default: a new temporary directory per start).")
    query_log: bool = Field(True, description="Write the query log (JSON lines; README 'Operations').")
    query_log_path: Path = Field(Path("var/log/queries.jsonl"), description="The query log file (one per "
                                 "process, suffixed with its pid, when workers > 1).")
    query_log_max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Size at which the query log rotates.")
    query_log_backups: int = Field(5, ge=0, description="Rotated query log files kept.")
    query_log_salt: Optional[SecretStr] = Field(None, description="Salt of the client hash in the query log "
                                                "(default: new at each start, so hashes link nothing across runs).")
    stall_report_after: float = Field(3.0, ge=0, description="Seconds a server process's event loop may stand still "
                                      "before the stacks of its threads are written to stderr (server/web/stalls.py; 0: off).")

    @field_validator("public_url", "base_iri")
    @classmethod
    def _slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("allowed_service_endpoints", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    def to_env(self) -> dict[str, str]:
        """These settings as ``ARKG_*`` variables, for child processes."""
        env = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, list):
                value = ",".join(value)
            if isinstance(value, SecretStr):  # str() would give '**********'
                value = value.get_secret_value()
            env[f"ARKG_{name.upper()}"] = str(value)
        return env


@lru_cache
def get_settings() -> Settings:
    """The one Settings object of this process (a FastAPI dependency; override it in tests)."""
    return Settings()
