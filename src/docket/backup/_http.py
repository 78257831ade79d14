"""What the HTTP object stores (Swift, S3) share: object and container names, writes spooled
and checked by MD5, reads of exactly the length the store declared, resumed where a body
broke off, bounded listings, and secrets kept out of every message.

A store gives each helper its client's calls; nothing here imports a client library.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import queue
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import IO, Any, BinaryIO

from docket.backup import _threads
from docket.backup.errors import InvalidBackup, ObjectStoreError
from docket.backup.store import ObjectPage, known_size
from docket.core.errors import DriverOptionError, FileTooLarge, show

SPOOL_IN_MEMORY = 8 << 20
"""Bytes of an object being written kept in memory; the rest spools to a temporary file."""
MAX_NAME_BYTES = 1024
"""Swift's and S3's longest object name, in UTF-8 bytes."""
MAX_LISTED = 10_000_000
"""Names one listing may return in all: past this, a listing that never ends is refused."""
READ_PIECE = 1 << 20
UPLOADS = 3
"""Objects a store writes at once, beside the backup that goes on making the next ones."""
READ_AHEAD = 4
"""Pieces of :data:`READ_PIECE` bytes a read-ahead holds before its reader takes them."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTAINER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def check_object_name(name: object, what: str = "object name") -> str:
    """A name a store accepts and docket writes: at most 1024 UTF-8 bytes, no control
    character, not starting with ``.`` or ``/``, no empty, ``.`` or ``..`` segment."""
    if (
        not isinstance(name, str)
        or not name
        or len(name.encode("utf-8", "replace")) > MAX_NAME_BYTES
        or _CONTROL.search(name)
        or name.startswith((".", "/"))
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise DriverOptionError(
            f"{what} {show(name)} is not an object name docket writes",
            hint="object names have at most 1024 bytes, no control characters and no "
            "empty, '.' or '..' segments",
        )
    return name


def check_container(name: object, what: str = "container") -> str:
    """A container (bucket) name: letters, digits, ``_``, ``.``, ``-``; no ``/``."""
    if not isinstance(name, str) or _CONTAINER.fullmatch(name) is None:
        raise DriverOptionError(
            f"{what} {show(name)} is not a container name",
            hint="use letters, digits, '_', '.' and '-' (Cinder's default: volumebackups)",
        )
    return name


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def refuse_md5(name: str, found: str, sent: str) -> InvalidBackup:
    return InvalidBackup(
        f"object {name} was stored with MD5 {found}, not the {sent} it was sent with",
        hint="nothing was stored under its name; write it again",
    )


class Redactor:
    """Removes secrets (keys, tokens) from text that reaches a message."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, "***")
        return out


DETAIL_MOST = 200
"""Characters of a client's own words kept in a failure's message."""


def failure_detail(err: BaseException, redact: Redactor) -> str:
    """The kind of a failure without an HTTP status and what it says (an auth URL that is no
    URL, a missing key, a connection refused), secrets redacted and bounded. What the system
    said at the bottom of the client's wrappers (``Connection refused``, ``Name or service
    not known``) comes first, so the cut never drops it."""
    # Redacted before it is cut: a secret cut in two would pass the redactor.
    said = " ".join(redact(str(err)).split())
    reason = _system_reason(err)
    if reason and reason not in said[: DETAIL_MOST - 3]:
        said = f"{reason}: {said}"
    if len(said) > DETAIL_MOST:
        said = said[: DETAIL_MOST - 3] + "..."
    return f"{type(err).__name__}: {said}" if said else type(err).__name__


def _system_reason(err: BaseException) -> str | None:
    """The ``strerror`` of the first ``OSError`` with one in what ``err`` wraps: its cause
    and context, its arguments, urllib3's ``reason`` and botocore's ``error`` (a bounded
    walk: a client's wrappers are a few deep)."""
    seen: set[int] = set()
    todo: list[object] = [err]
    while todo and len(seen) < 16:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and isinstance(item.strerror, str) and item.strerror:
            return item.strerror
        kwargs = getattr(item, "kwargs", None)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        if isinstance(kwargs, dict):
            todo.append(kwargs.get("error"))
    return None


class SpooledSink:
    """An object being written: its bytes spooled (in memory up to 8 MiB, then to a
    temporary file) and hashed, then stored whole by ``put(file, length, md5)`` on commit,
    once the caller's MD5 matches what was written. Nothing is stored before the commit.

    ``run`` is how the commit's store is run: at once by default, or handed to
    :class:`Uploads`, which stores it in the background (the spool is closed when it is)."""

    def __init__(
        self,
        name: str,
        put: Callable[[BinaryIO, int, str], None],
        run: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.name = name
        self._put = put
        self._run = run
        # Closed in commit or abort.
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._md5: Any = hashlib.md5(usedforsecurity=False)
        """The sink's own MD5 of what was written, checked in commit; None once the caller
        said it takes the MD5 itself (:meth:`write_known`)."""
        self._size = 0

    def write(self, data: bytes | memoryview, /) -> None:
        if self._md5 is not None:
            self._md5.update(data)
        self._spool.write(data)
        self._size += len(data)

    def write_known(self, data: bytes | memoryview, /) -> None:
        """Write bytes whose MD5 the caller takes itself, from the same buffer, and gives to
        :meth:`commit`: the sink does not take it a second time. The store still checks it:
        it goes with the upload (Swift's ETag, S3's Content-MD5), and the ETag returned must
        be it."""
        self._md5 = None
        self.write(data)

    def commit(self, md5: str) -> None:
        spool, size = self._spool, self._size
        found = md5 if self._md5 is None else self._md5.hexdigest()
        if found != md5:
            spool.close()
            raise refuse_md5(self.name, found, md5)
        spool.seek(0)

        def store() -> None:
            try:
                self._put(spool, size, md5)  # type: ignore[arg-type]
            finally:
                spool.close()

        if self._run is None:
            store()
            return
        try:
            self._run(store)
        except BaseException:
            spool.close()  # not handed over: an earlier upload failed
            raise

    def abort(self) -> None:
        self._spool.close()


class Uploads:
    """Objects stored in the background, ``limit`` at once at most, per container.

    Handing one over waits for a free slot, so a backup that makes objects faster than the
    store takes them holds ``limit`` spooled objects at most (8 MiB of memory each, the rest
    in temporary files). A failed upload is raised by the next hand-over to its container
    and by :meth:`wait`, which waits for every upload to the container (also after a
    failure, so that nothing is still being written when a failed backup cleans up)."""

    def __init__(self, limit: int = UPLOADS) -> None:
        self.limit = max(1, limit)
        self._slots = _threads.primitives().BoundedSemaphore(self.limit)
        self._lock = _threads.lock()
        self._pool: Executor | None = None
        self._pending: dict[str, list[Future[None]]] = {}

    def submit(self, container: str, job: Callable[[], None]) -> None:
        self._raise_failed(container)
        self._slots.acquire()
        try:
            with self._lock:
                if self._pool is None:
                    self._pool = _threads.executor("upload", self.limit)
                future = self._pool.submit(self._slot, job)
                self._pending.setdefault(container, []).append(future)
        except BaseException:
            self._slots.release()
            raise

    def _slot(self, job: Callable[[], None]) -> None:
        try:
            job()
        finally:
            self._slots.release()

    def _raise_failed(self, container: str) -> None:
        with self._lock:
            futures = list(self._pending.get(container, ()))
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()

    def wait(self, container: str) -> None:
        """Return once every upload to ``container`` is done; raise the first that failed."""
        with self._lock:
            futures = self._pending.pop(container, [])
        failure: BaseException | None = None
        for future in futures:
            try:
                future.result()
            except BaseException as err:  # every upload is waited for before raising
                failure = failure or err
        if failure is not None:
            raise failure


def abort_body(body: object) -> None:
    """End a read of ``body`` blocked in another thread (a store that stalls mid-body): its
    raw stream is closed from here (an :class:`ObjectBody` then shuts its socket down and
    asks for nothing more). Quiet: the body may be closing or closed already."""
    raw: Any = getattr(body, "raw", body)
    with contextlib.suppress(Exception):
        raw.close()


def shutdown_response(response: object) -> None:
    """Shut the socket of an HTTP response down (urllib3's ``shutdown``, which python-
    swiftclient's and boto3's responses are), so that a read blocked on it in another thread
    ends now rather than at the timeout; nothing where the client has no such call, or the
    response has given its connection back."""
    shutdown = getattr(response, "shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(Exception):
            shutdown()


class ReadAhead(io.RawIOBase):
    """A body read on a thread of its own, :data:`READ_AHEAD` pieces ahead of its reader, so
    that the network and the reader's work (decompressing, hashing) overlap. ``open_body`` is
    called on that thread too: a body can be asked for before it is needed. Errors reach the
    reader when it comes to them. A seek (zstd's frame check walks back over the object)
    ends the read-ahead: the body is opened again and read from where it is asked, in
    the reader's thread.

    :meth:`interrupt`, from any thread, gives the read up: the reader waiting for a piece
    gets :class:`ReadInterrupted`, and the body being read is aborted (see
    :func:`abort_body`). :meth:`close` ends the thread and waits for it."""

    def __init__(self, open_body: Callable[[], BinaryIO], depth: int = READ_AHEAD) -> None:
        super().__init__()
        self._open_body = open_body
        self._queue: queue.Queue[bytes | BaseException | None] = _threads.queues().Queue(
            max(1, depth)
        )
        self._stop = _threads.primitives().Event()
        self._left = b""
        self._taken = 0
        """Bytes of :attr:`_left` already handed out (a piece is not copied to drop them)."""
        self._ended = False
        self._pos = 0
        self._direct: BinaryIO | None = None
        self._body: BinaryIO | None = None
        self._interrupted = False
        self._thread = _threads.primitives().Thread(
            target=self._fill, name="docket-read-ahead", daemon=True
        )
        self._thread.start()

    def _fill(self) -> None:
        try:
            with self._open_body() as body:
                self._body = body
                if self._stop.is_set():  # given up while it was being opened
                    abort_body(body)
                # A fresh buffered body holds nothing yet: its raw body gives each piece as
                # the client read it, where the buffer would copy it once more.
                source = body.raw if isinstance(body, io.BufferedReader) else body
                while not self._stop.is_set():
                    piece = source.read(READ_PIECE)
                    if not piece:
                        break
                    self._put(piece)
            self._put(None)
        except BaseException as err:  # handed to the reader
            self._put(err)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except _threads.queues().Full:
                continue

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos if self._direct is None else self._direct.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self._direct is None:
            if whence == io.SEEK_SET and offset == self._pos:
                return self._pos
            self._end_ahead()
            self._direct = self._open_body()
            self._direct.seek(self._pos)
        return self._direct.seek(offset, whence)

    def read(self, size: int | None = -1) -> bytes:
        """The next bytes, at most ``size``: a whole piece as the thread read it when it
        fits (no copy: a reader of :data:`READ_PIECE` bytes at a time, as zlib's and the
        raw one are, takes each piece as it came), else a copy of the part."""
        if size is None or size < 0 or self._direct is not None:
            return super().read(-1 if size is None else size)  # readall, or via readinto
        left = self._next()
        end = min(len(left), self._taken + size)
        data = left if self._taken == 0 and end == len(left) else left[self._taken : end]
        self._hand_out(end - self._taken)
        return data

    def readinto(self, buffer: Any) -> int:
        if self._direct is not None:
            if self._interrupted:
                raise ReadInterrupted("the read was given up")
            return self._direct.readinto(buffer)  # type: ignore[attr-defined,no-any-return]
        view = memoryview(buffer).cast("B")
        left = self._next()
        n = min(len(view), len(left) - self._taken)
        view[:n] = memoryview(left)[self._taken : self._taken + n]
        self._hand_out(n)
        return n

    def _next(self) -> bytes:
        """The piece bytes are handed out of (empty at the end): the one begun, or the
        next the thread read."""
        if self._interrupted:
            raise ReadInterrupted("the read was given up")
        if self._taken == len(self._left) and not self._ended:
            item = self._queue.get()
            if item is _INTERRUPTED or self._interrupted:
                raise ReadInterrupted("the read was given up")
            if isinstance(item, BaseException):
                self._ended = True
                raise item
            self._left, self._taken = (b"", 0) if item is None else (item, 0)
            self._ended = item is None
        return self._left

    def _hand_out(self, n: int) -> None:
        self._taken += n
        self._pos += n

    def _end_ahead(self) -> None:
        self._stop.set()  # the thread stops at its next piece and closes its body
        with contextlib.suppress(_threads.queues().Empty):
            while True:
                self._queue.get_nowait()

    def interrupt(self) -> None:
        """Give the read up, from any thread (see the class)."""
        self._interrupted = True
        self._end_ahead()
        for body in (self._body, self._direct):
            if body is not None:
                abort_body(body)
        with contextlib.suppress(_threads.queues().Full):
            self._queue.put_nowait(_INTERRUPTED)  # wakes a reader waiting for a piece

    def close(self) -> None:
        if not self.closed:
            self._end_ahead()
            if self._body is not None:
                abort_body(self._body)  # a read blocked on a stalled store ends now
            # A body still being opened ends when the store answers or the request times out
            # (a request cannot be cut short): the thread is waited for all the same, so
            # that nothing of a restore runs on after it.
            self._thread.join()
            if self._direct is not None:
                self._direct.close()
        super().close()


class ReadInterrupted(ObjectStoreError):
    """A read given up by :meth:`ReadAhead.interrupt` (another object of the restore failed)."""


_INTERRUPTED = ReadInterrupted("the read was given up")


Opened = tuple[Callable[[int], bytes], Callable[[], None], int]
"""An opened body: its ``read(n)``, its ``close()`` and how many bytes it declares."""


class ObjectBody(io.RawIOBase):
    """An object's body of exactly ``size`` bytes, read in pieces.

    ``open_at(offset)`` (re)opens the body from ``offset`` (a ranged GET). A body that breaks
    off (a reset, a timeout) is reopened where it stopped, ``attempts`` times at most with a
    growing pause; a body that ends early, or a reopened one of another length, is
    :class:`InvalidBackup`. ``seek(0, SEEK_END)`` gives the size without reading; a seek
    forward skips what the open body holds, a seek back reopens it there.
    """

    def __init__(
        self,
        name: str,
        size: int,
        first: Opened,
        open_at: Callable[[int], Opened],
        failure: Callable[[BaseException], BaseException],
        *,
        attempts: int = 3,
        backoff: float = 1.0,
    ) -> None:
        super().__init__()
        self.name_ = name
        self.size = size
        self._read, self._close, _ = first
        self._open_at = open_at
        self._failure = failure
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._pos = 0
        self._stream_at = 0
        """Where the open body is: the next byte it gives is this one of the object."""
        self._given_up = False
        """Closed (from another thread, say, by :func:`abort_body`): nothing more is asked."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._next(len(view))
        n = len(data)
        view[:n] = data
        return n

    def read(self, size: int | None = -1) -> bytes:
        """At most ``size`` bytes (a piece as the client gave it, not copied)."""
        if size is None or size < 0:
            return super().read(-1)  # readall
        return self._next(size)

    def _next(self, most: int) -> bytes:
        """The next bytes from where the reader stands, at most ``most``."""
        if self._pos >= self.size or most <= 0:
            return b""
        if self._pos < self._stream_at:
            self._reopen_at(self._pos)
        while self._stream_at < self._pos:  # skip forward within the open body
            self._piece(min(READ_PIECE, self._pos - self._stream_at))
        data = self._piece(min(most, self.size - self._pos, READ_PIECE))
        self._pos += len(data)
        return data

    def _piece(self, want: int) -> bytes:
        for attempt in range(self._attempts):
            try:
                data = self._read(want)
            except Exception as err:  # the client's own errors: a reset, a timeout...
                if attempt + 1 >= self._attempts or self._given_up:
                    raise self._failure(err) from None
                time.sleep(self._backoff * (2**attempt))
                self._reopen_at(self._stream_at)
                continue
            if not data and self._given_up:
                raise ReadInterrupted(f"reading object {self.name_} was given up")
            if not data:
                raise InvalidBackup(
                    f"object {self.name_} ended after {self._stream_at} of the {self.size} "
                    "bytes the store declared",
                    hint="the object store returned a short body; try again, or check the store",
                )
            data = data[:want]
            self._stream_at += len(data)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _reopen_at(self, at: int) -> None:
        self._quiet_close()
        try:
            self._read, self._close, length = self._open_at(at)
        except FileNotFoundError:
            raise InvalidBackup(f"object {self.name_} went away while it was read") from None
        self._stream_at = at
        if self._given_up:  # closed while it was reopened
            self._quiet_close()
            raise ReadInterrupted(f"reading object {self.name_} was given up")
        if length != self.size - at:
            self._quiet_close()
            raise InvalidBackup(
                f"object {self.name_} changed while it was read ({self.size} bytes, then "
                f"{at + length})"
            )

    def _quiet_close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection may fail again
            self._close()

    def close(self) -> None:
        if not self.closed:
            self._given_up = True
            self._quiet_close()
        super().close()


def bounded(name: str, size: int, limit: int | None, close: Callable[[], None]) -> None:
    """Refuse (:class:`FileTooLarge`) an object of more than ``limit`` bytes before reading."""
    if limit is not None and size > limit:
        close()
        raise FileTooLarge(name, "object", size, limit)


def check_page(names: list[str], prefix: str, marker: str | None, where: str) -> None:
    """A listing page must be sorted, after the marker, and under the prefix; a store that
    says otherwise is refused (:class:`ObjectStoreError`), so a listing always progresses."""
    last = marker
    for name in names:
        if not name.startswith(prefix) or (last is not None and name <= last):
            raise ObjectStoreError(
                f"the listing of {where} is out of order or outside prefix {show(prefix)} "
                f"(at {show(name)})",
                hint="the object store is misbehaving; check it or the proxy in front of it",
            )
        last = name


def retry_pause(backoff: float, attempt: int) -> None:
    time.sleep(backoff * (2**attempt))


def bad_option(option: str, value: object, hint: str) -> DriverOptionError:
    return DriverOptionError(f"{option} {show(value)} is not valid", hint=hint)


@contextlib.contextmanager
def translating(
    failure: Callable[[BaseException, str], BaseException], what: str
) -> Iterator[None]:
    """Turn a client's errors into docket's typed ones (``failure`` decides which)."""
    try:
        yield
    except Exception as err:
        raise failure(err, what) from None


class HttpObjectStore:
    """The :class:`~docket.backup.store.ObjectStore` protocol over an HTTP object store's
    client: names checked before any request, writes spooled and checked by MD5 (and the
    ETag the store returns, unless ``_store`` returns None), bounded reads resumed where a
    body broke off, listings checked to progress, idempotent deletes. A store supplies the
    requests (``_head``, ``_create``, ``_store``, ``_open``, ``_page``, ``_delete``) and
    ``_failure``, which makes its client's errors typed."""

    kind = "object"
    retries: int = 3
    backoff: float = 1.0
    uploads: Uploads | None = None
    """Where committed objects are stored in the background (None: each as it is committed);
    :meth:`sync` waits for them."""

    # --- what a store supplies ------------------------------------------------------------

    def _failure(self, err: BaseException, what: str) -> BaseException:
        raise NotImplementedError

    def _head(self, container: str) -> None:
        raise NotImplementedError

    def _create(self, container: str) -> None:
        raise NotImplementedError

    def _store(self, container: str, name: str, fh: BinaryIO, size: int, md5: str) -> str | None:
        """PUT the object; the ETag the store returned, or None when it is not an MD5."""
        raise NotImplementedError

    def _open(self, container: str, name: str, at: int) -> Opened:
        raise NotImplementedError

    def _page(
        self, container: str, prefix: str, marker: str | None, limit: int
    ) -> tuple[list[tuple[str, object]], bool]:
        """Up to ``limit`` names after ``marker``, each with the size the listing gives (as
        it came: checked here), and whether the store says there are more."""
        raise NotImplementedError

    def _delete(self, container: str, name: str) -> None:
        raise NotImplementedError

    # --- the protocol ---------------------------------------------------------------------

    def _requests(self, what: str) -> contextlib.AbstractContextManager[None]:
        return translating(self._failure, what)

    def create_container(self, container: str) -> None:
        check_container(container)
        try:
            with self._requests(f"reading {self.kind} {container}"):
                self._head(container)
        except FileNotFoundError:
            with self._requests(f"creating {self.kind} {container}"):
                self._create(container)

    def open_writer(self, container: str, name: str) -> SpooledSink:
        check_container(container)
        check_object_name(name)
        uploads = self.uploads
        return SpooledSink(
            name,
            lambda fh, size, md5: self._put(container, name, fh, size, md5),
            None if uploads is None else functools.partial(uploads.submit, container),
        )

    def put_object(self, container: str, name: str, data: bytes, *, md5: str) -> None:
        check_container(container)
        check_object_name(name)
        found = md5_hex(data)
        if found != md5:
            raise refuse_md5(name, found, md5)
        self._put(container, name, io.BytesIO(data), len(data), md5)

    def _put(self, container: str, name: str, fh: BinaryIO, size: int, md5: str) -> None:
        with self._requests(f"writing object {name}"):
            etag = self._store(container, name, fh, size, md5)
        if etag is not None and etag != md5:
            # Cinder's check: the stored object is not what was sent. Leave nothing.
            with contextlib.suppress(FileNotFoundError, ObjectStoreError):
                self.delete_object(container, name)
            raise refuse_md5(name, etag, md5)

    def open_object(self, container: str, name: str, *, limit: int | None = None) -> BinaryIO:
        check_container(container)
        check_object_name(name)
        with self._requests(f"reading object {name}"):
            first = self._open(container, name, 0)
        bounded(name, first[2], limit, first[1])
        body = ObjectBody(
            name,
            first[2],
            first,
            lambda at: self._reopen(container, name, at),
            lambda err: self._failure(err, f"reading object {name}"),
            attempts=self.retries + 1,
            backoff=self.backoff,
        )
        return io.BufferedReader(body, READ_PIECE)

    def _reopen(self, container: str, name: str, at: int) -> Opened:
        with self._requests(f"reading object {name}"):
            return self._open(container, name, at)

    def list_objects(
        self,
        container: str,
        prefix: str = "",
        *,
        marker: str | None = None,
        limit: int = 1000,
    ) -> ObjectPage:
        check_container(container)
        if limit < 1:
            raise DriverOptionError(f"a listing page of {limit} names", hint="ask for 1 or more")
        with self._requests(f"listing {self.kind} {container}"):
            listed, more = self._page(container, prefix, marker, limit)
        names = [name for name, _ in listed[:limit]]
        check_page(names, prefix, marker, f"{self.kind} {container}")
        sizes = tuple(known_size(size) for _, size in listed[:limit])
        return ObjectPage(tuple(names), names[-1] if more and names else None, sizes)

    def delete_object(self, container: str, name: str) -> None:
        check_container(container)
        check_object_name(name)
        with contextlib.suppress(FileNotFoundError), self._requests(f"deleting object {name}"):
            self._delete(container, name)

    def sync(self, container: str) -> None:
        """A PUT is durable when it returns: wait for the uploads still running (and raise
        the first that failed)."""
        if self.uploads is not None:
            self.uploads.wait(container)
