"""OpenStack Swift as an object store and backup driver, in Cinder's ``SwiftBackupDriver``
format (python-swiftclient, the client Cinder uses: ``pip install 'docket[swift]'``).

:class:`SwiftStore` keeps the :class:`~docket.backup.store.ObjectStore` protocol over one
Swift account; :class:`SwiftBackupDriver` is the chunked engine over it, with Cinder's
options (``backup_swift_*``), defaults and object layout (see
:mod:`docket.backup.objects`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, BinaryIO

from docket.backup._http import (
    UPLOADS,
    HttpObjectStore,
    Opened,
    Redactor,
    Uploads,
    failure_detail,
)
from docket.backup._http import shutdown_response as _shutdown
from docket.backup.errors import MissingStoreClient, ObjectStoreAuthError, ObjectStoreError
from docket.backup.objects import ObjectStoreBackupDriver

__all__ = ["SwiftBackupDriver", "SwiftStore"]

DEFAULT_TIMEOUT = 60.0
"""Seconds a request may wait for the store (docket's; Cinder's Swift driver sets none)."""


def _client() -> Any:
    try:
        import swiftclient.client
    except ImportError:
        raise MissingStoreClient("Swift", "swift") from None
    return swiftclient.client


class SwiftStore(HttpObjectStore):
    """Swift containers and objects through python-swiftclient.

    Authentication is either a user and key at ``auth_url`` (Cinder's ``single_user``) or a
    ``storage_url`` with a ``token`` (Cinder's ``per_user``, the token of the user's
    request). ``retries`` and ``backoff`` are Cinder's ``backup_swift_retry_attempts`` and
    ``backup_swift_retry_backoff``: swiftclient retries a failed request that many times,
    and a body that breaks off is resumed from where it stopped as many times. A write is
    checked twice: the MD5 goes with the PUT as its ETag (Swift refuses a mismatch) and the
    ETag Swift returns must be that MD5 (Cinder's check); a refused object is deleted.
    ``uploads`` committed objects are stored at once in the background (each thread on its
    own connection; 0: each as it is committed); :meth:`sync` waits for them. Every request
    times out after ``timeout`` seconds without a byte.
    """

    def __init__(
        self,
        *,
        auth_url: str | None = None,
        user: str | None = None,
        key: str | None = None,
        storage_url: str | None = None,
        token: str | None = None,
        auth_version: str = "1",
        os_options: Mapping[str, str] | None = None,
        retries: int = 3,
        backoff: float = 2.0,
        cacert: str | None = None,
        insecure: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        uploads: int = UPLOADS,
    ) -> None:
        self._client = _client()
        self._settings: dict[str, Any] = {
            "authurl": auth_url,
            "user": user,
            "key": key,
            "preauthurl": storage_url,
            "preauthtoken": token,
            "auth_version": auth_version,
            "os_options": dict(os_options or {}),
            "retries": retries,
            "starting_backoff": backoff,
            "max_backoff": max(backoff, 1.0) * 8,
            "cacert": cacert,
            "insecure": insecure,
            "timeout": timeout,
        }
        self.uploads = Uploads(uploads) if uploads > 0 else None
        self.kind = "container"
        self.retries = retries
        self.backoff = backoff
        self.redact = Redactor([key, token])
        self._local = threading.local()

    def _conn(self) -> Any:
        """This thread's connection (swiftclient's are not shared between threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._client.Connection(**self._settings)
            self._local.conn = conn
        return conn

    def _failure(self, err: BaseException, what: str) -> BaseException:
        if isinstance(err, FileNotFoundError | ObjectStoreError):
            return err
        status = getattr(err, "http_status", None)
        if status == 404:
            return FileNotFoundError(what)
        if status in (401, 403):
            return ObjectStoreAuthError(
                f"Swift refused the credentials ({status}) {what}",
                hint="check ST_AUTH/ST_USER/ST_KEY (or OS_*), or backup_swift_* in cinder.conf",
            )
        detail = f"HTTP {status}" if status else failure_detail(err, self.redact)
        return ObjectStoreError(
            f"Swift failed {what} ({detail}) after {self.retries} retries",
            hint="check that the store is up and reachable; the request can be repeated",
        )

    # --- the requests ---------------------------------------------------------------------

    def _head(self, container: str) -> None:
        self._conn().head_container(container)

    def _create(self, container: str) -> None:
        self._conn().put_container(container)

    def _store(self, container: str, name: str, fh: BinaryIO, size: int, md5: str) -> str:
        # The MD5 goes as the ETag (Swift refuses a mismatch); the ETag returned is checked.
        return str(self._conn().put_object(container, name, fh, content_length=size, etag=md5))

    def _open(self, container: str, name: str, at: int) -> Opened:
        """A GET of the object from byte ``at`` on its own connection, its body streamed."""
        headers = {"Range": f"bytes={at}-"} if at else {}
        conn = self._conn()
        url, token = conn.get_auth() if conn.url is None else (conn.url, conn.token)
        own = self._client.Connection(
            **{**self._settings, "preauthurl": url, "preauthtoken": token}
        )
        found, body = own.get_object(container, name, resp_chunk_size=1 << 20, headers=headers)
        # swiftclient would resume a broken body itself, ``retries`` times for each of the
        # ObjectBody's own attempts (a stalled store then cost timeout x retries squared):
        # the body is resumed by ObjectBody alone, bounded once.
        own.retries = 0
        size = int(found.get("content-length", "0"))

        def close() -> None:
            # Another thread may be reading (a read-ahead given up): shut the socket first.
            _shutdown(getattr(getattr(body, "resp", None), "raw", None))
            body.close()
            own.close()

        return body.read, close, size

    def _page(
        self, container: str, prefix: str, marker: str | None, limit: int
    ) -> tuple[list[tuple[str, object]], bool]:
        _, listed = self._conn().get_container(
            container, prefix=prefix or None, marker=marker or "", limit=limit
        )
        # The JSON listing gives each object's size ("bytes"): no HEAD per object.
        sized = [(str(item.get("name", "")), item.get("bytes")) for item in listed]
        return sized, len(listed) >= limit

    def _delete(self, container: str, name: str) -> None:
        self._conn().delete_object(container, name)


class SwiftBackupDriver(ObjectStoreBackupDriver):
    """Volumes backed up into a Swift container in the layout of Cinder's
    ``SwiftBackupDriver``: the chunked engine over a :class:`SwiftStore`."""

    scheme = "swift"
    service_names = (
        "cinder.backup.drivers.swift.SwiftBackupDriver",
        "docket.backup.swift.SwiftBackupDriver",
    )
    store: SwiftStore
