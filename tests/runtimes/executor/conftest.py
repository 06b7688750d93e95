"""The executor's tests use the shared real-server harness of tests/runtimes/conftest.py."""

from tests.runtimes.conftest import DATA, TOKEN, Executor, StartExecutor, _free_port, assert_alive, run

__all__ = ["DATA", "TOKEN", "Executor", "StartExecutor", "_free_port", "assert_alive", "run"]
