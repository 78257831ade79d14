"""Where a chunked backup's objects live: the object-store protocol the engine writes through.

The chunked engine (:mod:`docket.backup.engine`) chunks, compresses, hashes and verifies; a
store only keeps named objects, as Cinder's chunked drivers leave ``put_container``,
``get_object_writer``, ``get_object_reader`` and ``delete_object`` to each driver. The
protocol is what Swift and S3 offer, so that they can implement it too:

- a *container* holds objects (Swift's container, S3's bucket, a POSIX directory); its name is
  the store's business (POSIX: ``ab/cd/<backup id>`` under the root);
- object names never start with ``.``, which stores may use for work in progress; a backup's
  objects share a prefix, ``volume_<id>_<time>_backup_<id>`` on POSIX (flat names) and
  ``volume_<id>/<time>/az_<zone>_backup_<id>`` in Swift and S3 (names with ``/``);
- an object is written once, whole, and checked: the writer is given the MD5 of the bytes it
  was sent, and refuses (nothing stays under the name) when what it stored differs, as Swift
  checks an ETag and S3 a Content-MD5. There is no rename and no append;
- reads are bounded: a caller says how many bytes it will read at most;
- listings are by prefix, sorted, in pages (``marker`` and ``limit``, as Swift and S3 page),
  with each object's size where the listing has it (optional: unknown when left out);
- deleting is idempotent: deleting a missing object is not an error;
- retries, credentials and durability belong to the store: ``sync`` returns once everything
  written to a container is on stable storage (a no-op where a write is durable on return),
  and once every object committed to it is stored, when the store writes in the background.

A third party adds a store by implementing :class:`ObjectStore` alone, and checks it with
:func:`docket.testing.check_object_store`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

DEFAULT_PAGE = 1000
"""Names in a listing page unless the caller asks for fewer (Swift's and S3's default)."""


@dataclass(frozen=True)
class ObjectPage:
    """One page of a listing: names in order, where the next page starts, and each object's
    size when the listing gives it (Swift's ``bytes``, S3's ``Size``)."""

    names: tuple[str, ...]
    marker: str | None
    """Pass as ``marker`` for the next page; ``None`` when this page is the last."""
    sizes: tuple[int | None, ...] | None = None
    """The objects' sizes in bytes, in the order of ``names``; ``None`` (the whole tuple, or
    one entry) where the store does not say. A store that lists names only leaves it out."""

    def sized(self) -> Iterator[tuple[str, int | None]]:
        """Each name with its size, ``None`` when not known: a size that is not a whole
        number of bytes, or a count of sizes not that of the names, are not known either."""
        sizes = self.sizes
        if sizes is None or len(sizes) != len(self.names):
            return ((name, None) for name in self.names)
        return ((name, known_size(size)) for name, size in zip(self.names, sizes, strict=True))


def known_size(size: object) -> int | None:
    """``size`` when it is a whole number of bytes (not a bool, not negative), else None."""
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None


class ObjectSink(Protocol):
    """One object being written. Nothing is visible under its name until :meth:`commit`."""

    def write(self, data: bytes | memoryview, /) -> None:
        """Add bytes to the object."""

    def commit(self, md5: str) -> None:
        """Store the object under its name; ``md5`` is the hex MD5 of every byte written.

        When the stored bytes do not have that MD5 the object is dropped and
        :class:`~docket.backup.errors.InvalidBackup` raised (Swift's ETag check).
        A store may store the object in the background and return at once (Swift and S3
        upload a few objects at a time): it is then stored by the time
        :meth:`ObjectStore.sync` returns, and a failure is raised by a later commit to the
        container or by ``sync``.
        """

    def abort(self) -> None:
        """Drop the object: nothing is stored under its name."""


@runtime_checkable
class ObjectStore(Protocol):
    """Named objects in containers: what a chunked backup driver needs of its storage."""

    def create_container(self, container: str) -> None:
        """Make the container if it is missing (an existing one is left as it is)."""

    def open_writer(self, container: str, name: str) -> ObjectSink:
        """Start writing object ``name``; the container must exist."""

    def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
        """Write a small object whole, checked against ``md5`` (hex MD5 of ``data``)."""

    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        """Open an object for reading; the caller closes it.

        ``limit``: refuse (:class:`~docket.core.errors.FileTooLarge`) an object of more bytes,
        before any is read. A missing object raises ``FileNotFoundError``.
        """

    def list_objects(
        self, container: str, prefix: str = "", *, marker: str | None = None,
        limit: int = DEFAULT_PAGE
    ) -> ObjectPage:
        """The names starting with ``prefix`` after ``marker``, sorted, ``limit`` at most,
        with their sizes when the listing has them (:attr:`ObjectPage.sizes`: no request
        per object for them).

        A missing container raises ``FileNotFoundError``.
        """

    def delete_object(self, container: str, name: str) -> None:
        """Remove an object; a missing one is not an error."""

    def sync(self, container: str) -> None:
        """Return once every object committed to the container is on stable storage."""


def all_objects(store: ObjectStore, container: str, prefix: str = "") -> list[str]:
    """Every name under ``prefix`` in a container, following the listing's pages."""
    names: list[str] = []
    marker: str | None = None
    while True:
        page = store.list_objects(container, prefix, marker=marker)
        names.extend(page.names)
        if page.marker is None:
            return names
        marker = page.marker
