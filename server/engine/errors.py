"""The ways a query can fail, shared by the worker process, the pool, in-process lookups and
the remote engine's client. Classes only: no codes, no HTTP statuses (the one table from
these to statuses is server/web/errors.py).

Raised in a worker, they cross the process boundary pickled (pebble re-raises them in the
server), so each takes one message argument.
"""

from __future__ import annotations


class QueryError(Exception):
    """Base of every error a query can end with."""


# --- the query's own fault: sending it again will fail again
class QueryRejected(QueryError):
    """The query cannot be answered as written."""


class QuerySyntaxError(QueryRejected):
    """The engine could not parse the query."""


class QueryEvaluationError(QueryRejected):
    """The query parsed but its evaluation failed (a type error, an unsupported feature...)."""


class ResultTooLarge(QueryRejected):
    """The serialised result, or the memory needed for it, passed the server's limit."""


class QueryCrashedWorker(QueryRejected):
    """The query made its worker process die of its own fault (stack overflow, abort)."""


# --- the service's state: the same query may succeed later
class QueryStopped(QueryError):
    """The query was stopped before it finished."""


class QueryTimeout(QueryStopped):
    """The query, or its wait for a worker, passed its time limit."""


class QueryPreempted(QueryStopped):
    """Stopped early to give its worker to another client's query (pool.py: fair share)."""


class EngineUnavailable(QueryError):
    """No engine to run the query: the pool is starting, closing, or its dataset failed to open;
    or the remote engine cannot be reached."""


class WorkerCrashed(EngineUnavailable):
    """The worker died mid-query from outside (killed, out of memory); it has been replaced."""
