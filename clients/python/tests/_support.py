"""Shared by the tests: optional modules and strict mode.

MACHINESOUP_PYTEST_STRICT=1 (scripts/test.sh sets it) turns every skip for
a missing module or an unreachable server into a failure, so that CI never
passes by running nothing.
"""

import importlib
import os

import pytest

STRICT = os.environ.get("MACHINESOUP_PYTEST_STRICT") == "1"

DEBIAN_PACKAGE = {
    "numpy": "python3-numpy",
    "psycopg": "python3-psycopg",
    "psycopg2": "python3-psycopg2",
    "sqlalchemy": "python3-sqlalchemy",
}


def require(name):
    """Import a module the tests need, or skip (fail when strict) saying why."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        reason = "module %s is not installed (apt-get install %s): %s" % (
            name, DEBIAN_PACKAGE.get(name, "python3-" + name), e)
        if STRICT:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def unavailable(reason):
    """Skip (fail when strict) a test that cannot run here."""
    if STRICT:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
