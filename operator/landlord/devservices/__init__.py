"""Real backing services started on this machine for the tests and the playground.

Nothing here is used by the operator in a cluster: these are the servers that `make test`
and `landlord dev` start next to the in-memory API server so that providers talk to the real
thing (a PostgreSQL server, not a mock), each on a free 127.0.0.1 port, stopped by its own PID.
"""

from .postgres import LocalPostgres, LocalPostgresError, PostgresBinaries, find_binaries
from .process import process_alive

__all__ = ["LocalPostgres", "LocalPostgresError", "PostgresBinaries", "find_binaries", "process_alive"]
