"""Engines from database URLs, checked before any work starts.

:func:`open_engine` is the one place a URL a person typed becomes an engine: a URL that does
not parse or names no dialect is :class:`~docket.store.errors.BadDatabaseURL`, one whose driver
is not installed :class:`~docket.store.errors.MissingDatabaseDriver` (saying what to install),
and a server (or SQLite file) it cannot open :class:`~docket.store.errors.DatabaseUnreachable`
(naming ``host:port``). Every command that takes a database URL goes through it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import sqlalchemy as sa

from docket.core.errors import show
from docket.store.api import make_engine
from docket.store.errors import (
    BadDatabaseURL,
    DatabaseUnreachable,
    MissingDatabaseDriver,
    reason_of,
    where,
)

_EXTRAS = {"psycopg": "postgresql", "pymysql": "mysql"}
"""Driver modules docket's extras install, and the extra that does."""

_OWN_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
"""For each backend, the driver of docket's extra (what to write after ``+`` in the URL)."""

_PACKAGES = {"psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient", "mysqldb": "mysqlclient"}
"""Driver modules whose package on PyPI has another name."""

_SQLITE_HINT = "check that the file's directory exists and that you may write there"

_NO_FILE_HINT = "check the path; `docket db init URL` creates a database with Cinder's tables"

_PASSWORD = re.compile(r"(://[^:/@]*:)[^/?#]*@")
"""The password of a URL's userinfo, up to its last ``@`` (one written unencoded ends there)."""

_SECRET_PARAM = re.compile(r"([?&][^=&#]*(?:pass|secret|token|credential)[^=&#]*=)[^&#]*", re.I)
"""A query parameter that carries a secret (``?password=``, ``sslpassword=``...): drivers
take the password there as well as before the ``@``."""


def hide_query_secrets(url: str) -> str:
    """``url`` (text) with the value of every query parameter that looks secret as ``***``."""
    return _SECRET_PARAM.sub(r"\1***", url)


def redact(url: str | sa.URL) -> str:
    """A database URL fit to print (no password, in the userinfo or the query); one that
    does not parse as typed, quoted, with what looks like a password hidden."""
    try:
        parsed = sa.make_url(url)
        if not at_in_host(parsed):
            return hide_query_secrets(parsed.render_as_string(hide_password=True))
    except (sa.exc.ArgumentError, ValueError, TypeError):
        pass
    text = hide_query_secrets(_PASSWORD.sub(r"\1***@", str(url)))
    return show(text if len(text) <= 200 else text[:200] + "...")


def at_in_host(url: sa.URL) -> bool:
    """Whether ``url`` has an ``@`` left in its host: the password held one, unencoded
    (SQLAlchemy splits the userinfo at the first), so part of it would be shown as the host."""
    return url.host is not None and "@" in url.host


def install_hint(backend: str, module: str) -> str:
    """How to get the driver ``module`` a URL of ``backend`` needs."""
    extra = _EXTRAS.get(module)
    if extra is not None:
        return (
            f"install docket's {extra} extra: pip install -c constraints.txt -e '.[{extra}]' "
            "in docket's checkout"
        )
    text = f"pip install {_PACKAGES.get(module, module)}"
    own = _OWN_DRIVERS.get(backend)
    if own is not None:
        text += (
            f", or write the URL as {backend}+{own}://... and install docket's "
            f"{_EXTRAS[own]} extra (pip install -c constraints.txt -e '.[{_EXTRAS[own]}]')"
        )
    return text


def _missing_sqlite_file(url: sa.URL) -> bool:
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return False
    if name.startswith("file:"):  # a URI filename (``?uri=true``): SQLite's own business
        return False
    return not os.path.lexists(name)


def open_engine(url: str | sa.URL, *, create: bool = False, **kwargs: Any) -> sa.Engine:
    """An engine on ``url`` (:func:`~docket.store.make_engine`) that has connected once.

    The connection goes back to the engine's pool, so the first statement reuses it. A
    SQLite file that does not exist is :class:`~docket.store.errors.DatabaseUnreachable`
    unless ``create`` (connecting would make an empty one).
    """
    shown = redact(url)
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError, TypeError) as err:
        raise BadDatabaseURL(shown, reason_of(err)) from None
    if at_in_host(parsed):
        raise BadDatabaseURL(
            shown,
            "its user or password holds an '@'",
            hint="write each '@' of the user or password as %40 (URL encoding)",
        )
    try:
        engine = make_engine(parsed, **kwargs)
    except sa.exc.NoSuchModuleError:
        raise BadDatabaseURL(
            shown, f"SQLAlchemy has no database dialect {show(parsed.drivername)}"
        ) from None
    except ImportError as err:
        module = err.name or reason_of(err)
        raise MissingDatabaseDriver(
            shown, module, install_hint(parsed.get_backend_name(), module)
        ) from None
    except (sa.exc.ArgumentError, ValueError, TypeError) as err:
        raise BadDatabaseURL(shown, reason_of(err)) from None
    if not create and _missing_sqlite_file(parsed):
        engine.dispose()
        raise DatabaseUnreachable(where(parsed), "no such file", hint=_NO_FILE_HINT)
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as err:
        engine.dispose()
        sqlite = parsed.get_backend_name() == "sqlite"
        raise DatabaseUnreachable(
            where(parsed),
            reason_of(err),
            hint=_SQLITE_HINT if sqlite else DatabaseUnreachable.hint,
        ) from None
    except (sa.exc.ArgumentError, ValueError, TypeError) as err:
        # A query parameter the driver refuses (``?connect_timeout=x``) shows only here.
        engine.dispose()
        raise BadDatabaseURL(shown, reason_of(err)) from None
    except OSError as err:
        # A file the URL names that the driver opens before connecting (``?ssl_ca=``).
        engine.dispose()
        raise DatabaseUnreachable(
            where(parsed),
            f"{reason_of(err)}{f': {err.filename}' if err.filename else ''}",
            hint="check the files the URL names (ssl_ca, sslrootcert, ...) and that you may "
            "read them",
        ) from None
    return engine
