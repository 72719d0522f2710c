"""Fixtures: a throwaway database with the machinesoup extension on the
server libpq's environment names (PGHOST, PGPORT, PGUSER, PGDATABASE, as
pg_virtualenv sets them), connected as a role that may create databases
and extensions.  Without a reachable server the tests that need one skip
(fail under MACHINESOUP_PYTEST_STRICT=1)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _support import STRICT, require, unavailable  # noqa: E402


def _admin_connect(dbname=None):
    """A DB-API connection in autocommit through whichever driver exists."""
    try:
        import psycopg
        conn = psycopg.connect(dbname=dbname, autocommit=True) if dbname else \
            psycopg.connect(autocommit=True)
        return conn
    except ImportError:
        import psycopg2
        conn = psycopg2.connect(dbname=dbname) if dbname else psycopg2.connect("")
        conn.autocommit = True
        return conn


@pytest.fixture(scope="session")
def dbname():
    """A fresh database with CREATE EXTENSION machinesoup, dropped afterwards."""
    name = "machinesoup_pytest_%d" % os.getpid()
    try:
        admin = _admin_connect()
    except ImportError:
        unavailable("neither psycopg nor psycopg2 is installed")
    except Exception as e:
        unavailable("no PostgreSQL server reachable through libpq's environment "
                    "(PGHOST=%s PGPORT=%s): %s" % (os.environ.get("PGHOST"),
                                                    os.environ.get("PGPORT"), e))
    cur = admin.cursor()
    cur.execute('DROP DATABASE IF EXISTS "%s"' % name)
    cur.execute('CREATE DATABASE "%s"' % name)
    try:
        conn = _admin_connect(name)
        conn.cursor().execute("CREATE EXTENSION machinesoup")
        conn.close()
        yield name
    finally:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.close()


@pytest.fixture
def conn(dbname):
    """A psycopg 3 connection (autocommit) with the vec adapters registered."""
    psycopg = require("psycopg")
    from machinesoup.psycopg import register_vec
    c = psycopg.connect(dbname=dbname, autocommit=True)
    register_vec(c)
    yield c
    c.close()


@pytest.fixture
def pg2conn(dbname):
    """A psycopg2 connection (autocommit) with the vec adapters registered."""
    psycopg2 = require("psycopg2")
    from machinesoup.psycopg2 import register_vec
    c = psycopg2.connect(dbname=dbname)
    c.autocommit = True
    register_vec(c)
    yield c
    c.close()


def pytest_report_header(config):
    return "machinesoup tests: strict=%s, PGHOST=%s PGPORT=%s" % (
        STRICT, os.environ.get("PGHOST"), os.environ.get("PGPORT"))
