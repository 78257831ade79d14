"""The store's errors about reaching a database: a URL docket cannot use, a driver that is not
installed, a server it cannot reach, a table the database lacks. Each is a
:class:`~docket.core.errors.StoreError`; :mod:`docket.errors` exports them too."""

from __future__ import annotations

from docket.core.errors import StoreError, show

URL_EXAMPLES = "e.g. sqlite:///cinder.db or postgresql+psycopg://user@host/cinder"


class BadDatabaseURL(StoreError, ValueError):
    """A database URL docket cannot use: it does not parse, or names no dialect SQLAlchemy
    has. ``url`` is the URL as it may be printed (no password)."""

    def __init__(self, url: str, reason: str, *, hint: str = URL_EXAMPLES) -> None:
        super().__init__(f"cannot use database URL {url}: {reason}", hint=hint)
        self.url = url


class MissingDatabaseDriver(BadDatabaseURL):
    """The URL names a database driver (DBAPI module) that is not installed: ``module`` is
    the module that could not be imported, ``install`` how to get it."""

    def __init__(self, url: str, module: str, install: str) -> None:
        super().__init__(url, f"its driver {module} is not installed", hint=install)
        self.module = module
        self.install = install


class DatabaseUnreachable(StoreError, ConnectionError):
    """docket could not connect to the database: ``where`` is ``host:port`` (or the SQLite
    file), ``connect_reason`` the driver's first line."""

    hint = "check that the server runs and the URL's host, port, user and database"

    def __init__(self, where: str, reason: str, *, hint: str = "") -> None:
        super().__init__(
            f"could not connect to the database at {where}: {reason}",
            hint=hint or DatabaseUnreachable.hint,
        )
        self.where = where
        self.connect_reason = reason


class MissingTable(StoreError, LookupError):
    """The database has no table ``table`` that the command reads."""

    def __init__(self, table: str) -> None:
        super().__init__(
            f"the database has no table {show(table)}",
            hint="point docket at a Cinder database; `docket db init URL` creates Cinder's "
            "tables for a demo or test database",
        )
        self.table = table


class InvalidValue(StoreError, ValueError):
    """A JSON value a database column cannot take (not the type its schema names, or a
    timestamp in another form): ``value`` is the value, ``reason`` what was expected. A
    restore reports it as a :class:`~docket.core.errors.RestoreRefused` at the value's place."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason
