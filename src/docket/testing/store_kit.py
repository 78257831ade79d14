"""A test kit that holds an object store to :class:`~docket.backup.store.ObjectStore`.

A third party adding a store (Swift, S3, ...) calls :func:`check_object_store` from its own
test with a factory of fresh, empty stores; docket runs it against its POSIX store::

    def test_my_store_keeps_the_protocol(tmp_path):
        check_object_store(lambda: MyStore(bucket=...), container="docket-kit")

It needs no hypothesis. Each check raises ``AssertionError`` naming what the store did wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator

from docket.backup.errors import InvalidBackup
from docket.backup.store import ObjectStore
from docket.core.errors import DocketError

PREFIX = "volume_kit-volume_20260102030405_backup_kit-backup"
"""The prefix the kit's objects share (Cinder's shape: ``volume_<id>_<time>_backup_<id>``)."""


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _read(store: ObjectStore, container: str, name: str, limit: int | None = None) -> bytes:
    with store.open_object(container, name, limit=limit) as fh:
        return fh.read()


def _listed(store: ObjectStore, container: str, prefix: str, limit: int) -> Iterator[str]:
    return (name for name, _ in _sized(store, container, prefix, limit))


def _sized(
    store: ObjectStore, container: str, prefix: str, limit: int
) -> Iterator[tuple[str, int | None]]:
    """The listing's names with the sizes it gives (``None`` where it gives none)."""
    marker: str | None = None
    for _ in range(10_000):
        page = store.list_objects(container, prefix, marker=marker, limit=limit)
        assert len(page.names) <= limit, f"a page of {limit} held {len(page.names)} names"
        sizes = getattr(page, "sizes", None)
        if sizes is not None:
            assert len(sizes) == len(page.names), (
                f"a page of {len(page.names)} names gave {len(sizes)} sizes"
            )
            sizes = tuple(sizes)
            for size in sizes:
                assert size is None or (type(size) is int and size >= 0), (
                    f"a listed size is {size!r}, not a number of bytes or None"
                )
        yield from zip(page.names, sizes or (None,) * len(page.names), strict=True)
        if page.marker is None:
            return
        assert page.names, "a page with a marker for more held no names"
        marker = page.marker
    raise AssertionError("the listing never reached its last page")


def _refused(what: str, work: Callable[[], object], *errors: type[BaseException]) -> None:
    try:
        work()
    except errors:
        return
    raise AssertionError(f"{what} was not refused with {' or '.join(e.__name__ for e in errors)}")


def check_object_store(
    factory: Callable[[], ObjectStore], *, container: str = "docket-kit"
) -> None:
    """Check that the stores ``factory`` makes keep the object-store protocol.

    ``container`` is a container name the store accepts; it must not exist yet in a fresh
    store. Covers: containers (created once, again harmlessly), streamed and whole writes
    checked by MD5 (a mismatch refused and nothing left under the name), a write that is
    neither committed nor aborted invisible, bounded reads, listings by prefix in pages (with
    the objects' sizes, where a page gives them: ``ObjectPage.sizes``), idempotent deletes,
    and a missing object or container as ``FileNotFoundError``.
    """
    store = factory()
    assert isinstance(store, ObjectStore), "the store lacks a method of the ObjectStore protocol"
    _refused(
        "listing a container that was never created",
        lambda: store.list_objects(container, PREFIX),
        FileNotFoundError,
    )
    store.create_container(container)
    store.create_container(container)  # a second time: harmless

    # A streamed write, in pieces, committed with the MD5 of every byte.
    name = f"{PREFIX}-00001"
    pieces: list[bytes | memoryview] = [b"\x00" * 1000, bytes(range(256)) * 7, memoryview(b"tail")]
    data = b"".join(bytes(p) for p in pieces)
    sink = store.open_writer(container, name)
    for piece in pieces:
        sink.write(piece)
    assert name not in _listed(store, container, PREFIX, 100), "listed before its commit"
    sink.commit(_md5(data))
    store.sync(container)  # a store may write committed objects in the background
    assert _read(store, container, name) == data, "read back other bytes than were written"

    # A whole small object.
    meta = f"{PREFIX}_metadata"
    store.put_object(container, meta, b'{"version": "1.0.0"}', md5=_md5(b'{"version": "1.0.0"}'))
    assert _read(store, container, meta) == b'{"version": "1.0.0"}'

    # MD5 mismatches are refused and leave nothing under the name.
    bad = f"{PREFIX}-00002"
    sink = store.open_writer(container, bad)
    sink.write(b"some bytes")
    _refused("a commit with the wrong MD5", lambda: sink.commit(_md5(b"other")), InvalidBackup)
    _refused(
        "a put with the wrong MD5",
        lambda: store.put_object(container, bad, b"x", md5=_md5(b"y")),
        InvalidBackup,
    )
    assert bad not in _listed(store, container, PREFIX, 100), "a refused object was kept"
    _refused(
        "opening a refused object",
        lambda: _read(store, container, bad),
        FileNotFoundError,
    )

    # An aborted write leaves nothing.
    sink = store.open_writer(container, bad)
    sink.write(b"abandoned")
    sink.abort()
    assert bad not in _listed(store, container, PREFIX, 100), "an aborted object was kept"

    # Bounded reads: refused past the limit, before a byte is read.
    assert _read(store, container, name, limit=len(data)) == data
    _refused(
        "opening an object past its limit",
        lambda: _read(store, container, name, limit=len(data) - 1),
        DocketError,
    )
    _refused(
        "opening a missing object",
        lambda: _read(store, container, f"{PREFIX}-09999"),
        FileNotFoundError,
    )

    # Listings: by prefix, sorted, in pages that cover every name once.
    others = [f"volume_kit-volume_20260102030405_backup_kit-other-{i:05d}" for i in range(1, 3)]
    more = [f"{PREFIX}-{i:05d}" for i in range(3, 9)]
    for extra in [*more, *others]:
        store.put_object(container, extra, extra.encode(), md5=_md5(extra.encode()))
    expected = sorted([name, meta, *more])
    for limit in (1, 2, 3, 1000):
        got = list(_listed(store, container, PREFIX, limit))
        assert got == expected, f"pages of {limit}: {got} is not {expected}"
    assert sorted(_listed(store, container, "", 1000)) == sorted([*expected, *others])
    # Sizes, where the listing gives them (optional: a store may list names only), are the
    # objects' lengths.
    lengths = {name: len(data), meta: len(b'{"version": "1.0.0"}')}
    lengths.update((extra, len(extra.encode())) for extra in more)
    for limit in (2, 1000):
        for listed, size in _sized(store, container, PREFIX, limit):
            assert size is None or size == lengths[listed], (
                f"{listed} is listed with {size} bytes, but holds {lengths[listed]}"
            )

    # Deletes: idempotent, and only the named object goes.
    store.delete_object(container, more[0])
    store.delete_object(container, more[0])
    assert list(_listed(store, container, PREFIX, 1000)) == [e for e in expected if e != more[0]]
    with contextlib.suppress(NotImplementedError):
        store.sync(container)
