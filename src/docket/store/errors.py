"""The errors the store raises: about reaching a database (a URL docket cannot use, a driver
that is not installed, a server it cannot reach, a table the database lacks), about its
volumes (:class:`VolumeNotFound`), its transactions (:class:`Deadlock`), and the refusals only a
database makes (:class:`ValueTooLong`, :class:`ValueOutOfRange`, :class:`KeyConflict`).
:mod:`docket.errors` exports them too.

The base, :class:`~docket.core.errors.StoreError`, is defined in :mod:`docket.core.errors`: a
command reports a database failure as one without loading SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence

from docket.core.display import display
from docket.core.errors import Location, RestoreRefused, StoreError, show

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
