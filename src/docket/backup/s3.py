"""S3 as an object store and backup driver, in Cinder's ``S3BackupDriver`` format (boto3, the
client Cinder uses: ``pip install 'docket[s3]'``).

:class:`S3Store` keeps the :class:`~docket.backup.store.ObjectStore` protocol over one S3
endpoint; :class:`S3BackupDriver` is the chunked engine over it, with Cinder's options
(``backup_s3_*``), defaults and object layout (see :mod:`docket.backup.objects`).
Credentials not given come from boto3's own chain (``AWS_ACCESS_KEY_ID``, profiles,
``AWS_ENDPOINT_URL``...).
"""

from __future__ import annotations

import base64
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
from docket.backup.errors import (
    DriverOptionError,
    MissingStoreClient,
    ObjectStoreAuthError,
    ObjectStoreError,
)
from docket.backup.objects import ObjectStoreBackupDriver

__all__ = ["S3BackupDriver", "S3Store"]

_MISSING = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_AUTH = {"401", "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
# botocore's errors for credentials it could not find, raised before any request is sent:
# nothing to retry, and nothing wrong with the store.
_NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError"}
_CREDENTIALS_HINT = (
    "check boto3's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
    "AWS_ENDPOINT_URL) or backup_s3_* in cinder.conf"
)


def _clients() -> tuple[Any, Any]:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise MissingStoreClient("S3", "s3") from None
    return boto3, Config


def _client_error(err: Exception, redact: Redactor) -> BaseException:
    """What making the client raised, typed: credentials found in part, an endpoint that is
    no URL, an option botocore refuses. No request was sent."""
    from botocore.exceptions import BotoCoreError

    if type(err).__name__ in _NO_CREDENTIALS:
        return ObjectStoreAuthError(
            f"S3 credentials are incomplete ({redact(str(err))})", hint=_CREDENTIALS_HINT
        )
    if isinstance(err, BotoCoreError | ValueError):
        return DriverOptionError(
            f"cannot set up the S3 client: {redact(str(err))}",
            hint="check AWS_ENDPOINT_URL (or backup_s3_endpoint_url), the region and the "
            "backup_s3_* options",
        )
    return err


class S3Store(HttpObjectStore):
    """S3 buckets and objects through boto3, as Cinder's S3 driver configures it.

    ``retries`` (Cinder's ``backup_s3_retry_max_attempts``) and ``retry_mode``
    (``backup_s3_retry_mode``) go to botocore, which retries throttling, 5xx and connection
    errors; a body that breaks off is resumed from where it stopped as many times.
    ``md5_validation`` sends each object's Content-MD5 (the store refuses a mismatch), and
    the returned ETag must be the MD5 (unless SSE-C is on, where it is not). ``uploads``
    committed objects are stored at once in the background (0: each as it is committed);
    :meth:`sync` waits for them.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        retries: int = 4,
        retry_mode: str = "legacy",
        timeout: float = 60.0,
        max_pool_connections: int = 10,
        verify: bool | str | None = None,
        md5_validation: bool = True,
        sse_customer_key: str | None = None,
        sse_customer_algorithm: str | None = None,
        http_proxy: str | None = None,
        https_proxy: str | None = None,
        uploads: int = UPLOADS,
    ) -> None:
        boto3, config = _clients()
        proxies = {k: v for k, v in (("http", http_proxy), ("https", https_proxy)) if v}
        settings: dict[str, Any] = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "max_pool_connections": max_pool_connections,
            "retries": {"max_attempts": retries, "mode": retry_mode},
            # Checksums only where S3 requires them: what Cinder's requests carry (Content-MD5),
            # which every S3 implementation understands.
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        if proxies:
            settings["proxies"] = proxies
        self.uploads = Uploads(uploads) if uploads > 0 else None
        self.kind = "bucket"
        self.retries = retries
        self.backoff = 0.5
        self.redact = Redactor([secret_key, sse_customer_key])
        self.md5_validation = md5_validation
        self._sse: dict[str, str] = (
            {"SSECustomerAlgorithm": sse_customer_algorithm, "SSECustomerKey": sse_customer_key}
            if sse_customer_key and sse_customer_algorithm
            else {}
        )
        try:
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                region_name=region,
                verify=verify,
                config=config(**settings),
            )
        except Exception as err:  # botocore's own errors, and ValueError for a bad endpoint
            raise _client_error(err, self.redact) from None


    def _failure(self, err: BaseException, what: str) -> BaseException:
        if isinstance(err, FileNotFoundError | ObjectStoreError):
            return err
        response = getattr(err, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _MISSING or status == 404:
            return FileNotFoundError(what)
        if code in _AUTH or status in (401, 403):
            return ObjectStoreAuthError(
                f"S3 refused the credentials ({code or status}) {what}", hint=_CREDENTIALS_HINT
            )
        if type(err).__name__ in _NO_CREDENTIALS:
            return ObjectStoreAuthError(
                f"no S3 credentials found {what} ({type(err).__name__})", hint=_CREDENTIALS_HINT
            )
        detail = (
            self.redact(f"{code or status}")
            if (code or status)
            else failure_detail(err, self.redact)
        )
        return ObjectStoreError(
            f"S3 failed {what} ({detail}) after {self.retries} attempts",
            hint="check that the store is up and reachable; the request can be repeated",
        )

    # --- the requests ---------------------------------------------------------------------

    def _head(self, container: str) -> None:
        self._client.head_bucket(Bucket=container)

    def _create(self, container: str) -> None:
        self._client.create_bucket(Bucket=container)

    def _store(self, container: str, name: str, fh: BinaryIO, size: int, md5: str) -> str | None:
        args: dict[str, Any] = {
            "Bucket": container,
            "Key": name,
            "Body": fh,
            "ContentLength": size,
            **self._sse,
        }
        if self.md5_validation:
            args["ContentMD5"] = base64.b64encode(bytes.fromhex(md5)).decode("ascii")
        answer = self._client.put_object(**args)
        # With SSE-C the ETag is not the MD5 of the bytes; Content-MD5 was checked instead.
        return None if self._sse else str(answer.get("ETag", "")).strip('"')

    def _open(self, container: str, name: str, at: int) -> Opened:
        extra = {"Range": f"bytes={at}-"} if at else {}
        answer = self._client.get_object(Bucket=container, Key=name, **extra, **self._sse)
        stream = answer["Body"]

        def close() -> None:
            # Another thread may be reading (a read-ahead given up): shut the socket first.
            _shutdown(getattr(stream, "_raw_stream", None))
            stream.close()

        return stream.read, close, int(answer.get("ContentLength", 0))

    def _page(
        self, container: str, prefix: str, marker: str | None, limit: int
    ) -> tuple[list[tuple[str, object]], bool]:
        args: dict[str, Any] = {"Bucket": container, "Prefix": prefix, "MaxKeys": limit}
        if marker:
            args["StartAfter"] = marker
        answer = self._client.list_objects_v2(**args)
        # ListObjectsV2 gives each object's size ("Size"): no HEAD per object.
        contents = answer.get("Contents") or []
        listed = [(str(item.get("Key", "")), item.get("Size")) for item in contents]
        return listed, bool(answer.get("IsTruncated"))

    def _delete(self, container: str, name: str) -> None:
        self._client.delete_object(Bucket=container, Key=name)


class S3BackupDriver(ObjectStoreBackupDriver):
    """Volumes backed up into an S3 bucket in the layout of Cinder's ``S3BackupDriver``: the
    chunked engine over an :class:`S3Store`."""

    scheme = "s3"
    service_names = (
        "cinder.backup.drivers.s3.S3BackupDriver",
        "docket.backup.s3.S3BackupDriver",
    )
    store: S3Store
