"""The errors the store raises: about reaching a database (a URL docket cannot use, a driver
that is not installed, a server it cannot reach or whose connection dropped, a table the
database lacks), about its volumes (:class:`VolumeNotFound`), its transactions
(:class:`Deadlock`, :class:`LockTimeout`), and the refusals only a database makes
(:class:`ValueTooLong`, :class:`ValueOutOfRange`, :class:`KeyConflict`); and
:func:`database_error`, which tells a driver's failure apart into them.
:mod:`docket.errors` exports the errors too.

The base, :class:`~docket.core.errors.StoreError`, is defined in :mod:`docket.core.errors`: a
command reports a database failure as one without loading SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from docket.core.display import display
from docket.core.errors import Location, RestoreRefused, StoreError, show

if TYPE_CHECKING:
    import sqlalchemy as sa

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}

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


class ConnectionLost(StoreError, ConnectionError):
    """The connection to the database dropped while docket worked on it (the server
    restarted, the session was killed, the network failed): ``where`` is ``host:port`` (or
    the SQLite file), ``action`` what docket was doing, ``at_commit`` whether the restore was
    committing, when the database alone knows whether it was written."""

    def __init__(self, where: str, action: str, reason: str, *, at_commit: bool = False) -> None:
        if at_commit:
            hint = (
                "the connection dropped as the restore committed, so it may or may not have "
                "been written: run it again once the server is back (a restore run again "
                "writes the same), or look with `docket backup`"
            )
        elif action == "restore":
            hint = "nothing was written (the database rolled the restore back); run it again"
        else:
            hint = "run it again once the server is back"
        super().__init__(
            f"lost the connection to the database at {where} while trying to {action}: "
            f"{reason}",
            hint=hint,
        )
        self.where = where
        self.action = action
        self.at_commit = at_commit


class LockTimeout(StoreError, TimeoutError):
    """Another transaction held a row the restore must lock (``SELECT ... FOR UPDATE``)
    longer than the database waits (PostgreSQL's ``lock_timeout``, MySQL/MariaDB's
    ``innodb_lock_wait_timeout``); the restore was rolled back."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(
            f"the database gave up waiting for a lock while trying to {action}: {reason}",
            hint="nothing was written; another transaction holds the volume's rows (Cinder, "
            "or another restore of the same volume): run it again once that one ends",
        )
        self.action = action


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


class ValueTooLong(RestoreRefused):
    """A value is longer than its database column holds; refused before anything is written."""

    def __init__(self, path: Location, length: int, limit: int, unit: str, column: str) -> None:
        super().__init__(
            f"{length} {unit} do not fit column {column} ({limit} {unit} at most)",
            path=path,
            hint="shorten the value, or widen the column",
        )
        self.length = length
        self.limit = limit
        self.unit = unit
        self.column = column


class ValueOutOfRange(RestoreRefused):
    """An integer outside its column's range (``INTEGER``: 32 bits, as Cinder declares
    ``size``): PostgreSQL would fail the restore, SQLite raise an overflow past 64 bits and
    MySQL/MariaDB under a non-strict ``sql_mode`` store the nearest end instead; refused
    before anything is written, on every database alike."""

    def __init__(self, path: Location, value: int, low: int, high: int, column: str) -> None:
        self.value, self.low, self.high, self.column = value, low, high, column
        digits = str(value)
        shown = digits if len(digits) <= 40 else f"an integer of {len(digits)} digits"
        super().__init__(
            f"{shown} does not fit column {column} ({low} to {high})",
            path=path,
            hint="restore a value within the column's range, or widen the column",
        )


class UnstorableValue(RestoreRefused):
    """Text the column's character set cannot hold as it is: MySQL/MariaDB would store
    something else (``?`` for an emoji in ``utf8mb3`` under a non-strict ``sql_mode``), so
    it is refused before anything is written."""

    def __init__(self, path: Location, character: str, column: str, charset: str) -> None:
        self.character, self.column, self.charset = character, column, charset
        told = f"U+{ord(character):04X} {show(character)}"
        super().__init__(
            f"column {column} is in character set {charset}, which cannot hold {told}: "
            "the database would store another value",
            path=path,
            hint="convert the table to utf8mb4, or remove the character",
        )


class KeyConflict(RestoreRefused):
    """Two metadata keys the database would take for one (MySQL/MariaDB compare keys
    case-insensitively); refused rather than lose one of them."""

    def __init__(self, path: Location, keys: Sequence[str], database: str) -> None:
        super().__init__(
            f"keys {', '.join(show(k) for k in keys)} are one key to {database}, which "
            "compares metadata keys without case, accents or trailing spaces",
            path=path,
            hint="rename one of the keys; restoring both would lose one",
        )
        self.keys = tuple(keys)
        self.database = database


class Deadlock(StoreError):
    """The database failed the restore to break a deadlock (or a serialization conflict) each
    time it was tried; nothing was written."""

    def __init__(self, attempts: int, reason: str) -> None:
        super().__init__(
            f"the database broke a deadlock by failing this restore ({attempts} attempts): "
            f"{reason}",
            hint="nothing was written; run it again once the other writers are done",
        )
        self.attempts = attempts


class VolumeNotFound(StoreError, LookupError):
    """No volume (that is not soft-deleted) has the id."""

    def __init__(self, volume_ids: Sequence[str]) -> None:
        self.volume_ids = tuple(volume_ids)
        # An id comes from a person or a script: any text (a newline, NUL, bytes that were
        # not UTF-8), shown escaped on one line.
        shown = ", ".join(display(v) for v in self.volume_ids[:5])
        more = f" and {len(self.volume_ids) - 5} more" if len(self.volume_ids) > 5 else ""
        noun = "volume" if len(self.volume_ids) == 1 else "volumes"
        super().__init__(
            f"{noun} {shown}{more} not found",
            hint="check the id; deleted volumes do not exist for docket",
        )


def reason_of(err: BaseException) -> str:
    """The first line of a database error (the driver's own, where there is one)."""
    orig = getattr(err, "orig", None)
    lines = str(orig if orig is not None else err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__)[:300]


def where(url: sa.URL) -> str:
    """``host:port`` of a server database's URL, the file of a SQLite one."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.database or ":memory:"
    port = url.port or _DEFAULT_PORTS.get(backend)
    host = url.host or "localhost"
    return f"{host}:{port}" if port else host


def database_error(
    action: str, err: Exception, engine: sa.Engine | None = None, *, at_commit: bool = False
) -> StoreError:
    """The error to raise for a database failure while trying to ``action``: a dropped
    connection is :class:`ConnectionLost` and a lock waited on too long :class:`LockTimeout`
    (given the ``engine``, to name where), anything else a :class:`StoreError`."""
    orig = getattr(err, "orig", None)
    reason = reason_of(err)
    if engine is not None:
        if getattr(err, "connection_invalidated", False):  # a SQLAlchemy DBAPIError's
            return ConnectionLost(where(engine.url), action, reason, at_commit=at_commit)
        if _driver_says(orig if orig is not None else err, _LOCK_STATES, _MYSQL_LOCK_WAIT):
            return LockTimeout(action, reason)
    return StoreError(
        f"the database failed to {action}: {type(orig or err).__name__}: {reason}",
        hint="nothing was written; check the database and run it again",
    )


# SQLSTATE lock_not_available (PostgreSQL's lock_timeout), MySQL/MariaDB's
# ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout).
_LOCK_STATES = frozenset({"55P03"})
_MYSQL_LOCK_WAIT = 1205


def _driver_says(orig: object, states: frozenset[str], mysql_code: int) -> bool:
    """Whether a driver's error carries one of the SQLSTATEs ``states`` (psycopg's
    ``sqlstate``) or the MySQL error number ``mysql_code`` (PyMySQL's first argument)."""
    if getattr(orig, "sqlstate", None) in states:
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == mysql_code


# SQLSTATEs of a transaction failed to break a deadlock or a serialization conflict
# (PostgreSQL), and MySQL/MariaDB's ER_LOCK_DEADLOCK, which rolls the transaction back.
_CONFLICT_STATES = frozenset({"40P01", "40001"})
_MYSQL_DEADLOCK = 1213


def conflict(err: sa.exc.DBAPIError) -> bool:
    """Whether the database failed the transaction to break a deadlock: it was rolled back
    whole, and running it again is safe."""
    return _driver_says(err.orig, _CONFLICT_STATES, _MYSQL_DEADLOCK)
