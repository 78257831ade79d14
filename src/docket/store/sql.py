"""Core statements compiled once per dialect, for the store's hot paths.

SQLAlchemy's per-execution work (compile-cache lookup, parameter processing per row, result
rows) costs more than the query itself for the small, repeated statements of a backup and for
the tens of thousands of rows of a bulk restore. The store therefore compiles its Core
statements once and runs the SQL text either on the DBAPI cursor (reads) or through
``Connection.exec_driver_sql`` (writes, so engine events and transactions still apply),
with parameters it has already put in the driver's form.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

IN_BIND = "docket_in_0"
"""The name of the one bind parameter an :class:`InSql` statement's IN list holds."""


def in_list(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """``column IN (<the expandable list>)`` for :class:`InSql`."""
    return column.in_([sa.bindparam(IN_BIND)])


@dataclass(frozen=True)
class Sql:
    """One statement as SQL text in the dialect's parameter style."""

    text: str
    names: tuple[str, ...]
    """Bind names (in order, when positional)."""
    positional: bool

    @classmethod
    def of(cls, stmt: sa.ClauseElement, dialect: sa.Dialect) -> Sql:
        compiled = stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
        return cls(str(compiled), names, positional)

    def params(self, values: Mapping[str, Any]) -> Any:
        """``values`` (by bind name) in the form the driver takes."""
        if self.positional:
            return tuple([values[n] for n in self.names])
        return {n: values[n] for n in self.names}

    def many(self, fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Any]:
        """Rows given as tuples in ``fields`` order, in the form the driver takes."""
        if self.positional:
            if tuple(fields) == self.names:
                return list(rows)
            order = [list(fields).index(n) for n in self.names]
            if len(order) < 2:
                return [tuple([row[i] for i in order]) for row in rows]
            pick = itemgetter(*order)
            return [pick(row) for row in rows]
        return [dict(zip(fields, row, strict=True)) for row in rows]


@dataclass
class InSql:
    """A statement with one IN list, expanded to any length as text.

    It is compiled once with a single bind parameter in the list (:func:`in_list`); a call
    with ``n`` values repeats that parameter's placeholder ``n`` times, which costs a string
    join rather than a compilation.
    """

    base: Sql
    head: str
    placeholder: str
    tail: str
    _expanded: dict[int, Sql] = field(default_factory=dict, repr=False)
    """Texts made, by list length. No lock: each access is one dict operation (atomic),
    and two threads making the same text make equal ones. A lock made here would be one of
    eventlet's green locks in ``cinder-backup``, where the engine's operations run in OS
    threads, and a green lock waited on across OS threads fails."""

    @classmethod
    def of(cls, stmt: sa.ClauseElement, dialect: sa.Dialect) -> InSql:
        base = Sql.of(stmt, dialect)
        start = base.text.index(" IN (") + len(" IN (")
        depth, end = 1, start
        while depth:  # the list's closing parenthesis (placeholders may hold some: %(x)s)
            depth += {"(": 1, ")": -1}.get(base.text[end], 0)
            end += 1
        end -= 1
        placeholder = base.text[start:end]
        if base.text.count(" IN (") != 1 or (not base.positional and IN_BIND not in placeholder):
            raise ValueError(f"expected one IN list of {IN_BIND}: {base.text}")
        return cls(base, base.text[:start], placeholder, base.text[end:])

    def _sql(self, n: int) -> Sql:
        found = self._expanded.get(n)
        if found is not None:
            return found
        base = self.base
        if base.positional:
            text = self.head + ", ".join([self.placeholder] * n) + self.tail
            i = base.names.index(IN_BIND)
            names = (*base.names[:i], *(f"docket_in_{k}" for k in range(n)), *base.names[i + 1 :])
        else:
            marks = [self.placeholder.replace(IN_BIND, f"docket_in_{k}") for k in range(n)]
            text = self.head + ", ".join(marks) + self.tail
            names = (
                *(b for b in base.names if b != IN_BIND),
                *(f"docket_in_{k}" for k in range(n)),
            )
        made = Sql(text, names, base.positional)
        if len(self._expanded) > 16:  # a few lengths recur (chunk size, 1); keep it small
            self._expanded.clear()
        self._expanded[n] = made
        return made

    def bind(self, ids: Sequence[Any], values: Mapping[str, Any] | None = None) -> tuple[str, Any]:
        """SQL text and driver parameters for the list ``ids`` and the other ``values``."""
        sql = self._sql(len(ids))
        if sql.positional:
            base = self.base
            i = base.names.index(IN_BIND)
            extra = values or {}
            before = [extra[n] for n in base.names[:i]]
            after = [extra[n] for n in base.names[i + 1 :]]
            return sql.text, (*before, *ids, *after)
        params = dict(values or {})
        for k, v in enumerate(ids):
            params[f"docket_in_{k}"] = v
        return sql.text, params


Processor = Callable[[Any], Any] | None


def result_processors(table: sa.Table, dialect: sa.Dialect) -> list[Processor]:
    """Per column of ``table``, SQLAlchemy's function turning a driver value into Python's
    (None where the driver's value is already right)."""
    return [_result_processor(col, dialect) for col in table.columns]


def _result_processor(column: sa.Column[Any], dialect: sa.Dialect) -> Processor:
    try:
        return column.type.dialect_impl(dialect).result_processor(dialect, None)
    except (TypeError, ValueError, KeyError):
        # A type that picks its function by the driver's type code of a result column,
        # unknown before a query (psycopg's NUMERIC, which a release or a site may add to
        # the volumes table): the driver's value is read as it is (a Decimal for NUMERIC).
        return None


def bind_processor(column: sa.Column[Any], dialect: sa.Dialect) -> Processor:
    """SQLAlchemy's function turning a Python value into the driver's for ``column``."""
    return column.type.dialect_impl(dialect).bind_processor(dialect)


class LazyRow(Mapping[str, Any]):
    """A driver row read as a mapping of Python values, each converted when first read."""

    __slots__ = ("_index", "_processors", "_raw")

    def __init__(
        self, raw: Sequence[Any], index: Mapping[str, int], processors: Sequence[Processor]
    ) -> None:
        self._raw = raw
        self._index = index
        self._processors = processors

    def __getitem__(self, key: str) -> Any:
        i = self._index[key]
        value = self._raw[i]
        proc = self._processors[i]
        return value if proc is None or value is None else proc(value)

    def __iter__(self) -> Any:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)
