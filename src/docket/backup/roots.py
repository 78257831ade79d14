"""Where backups are, named by one root: a directory (Cinder's POSIX layout), ``swift://CONTAINER``
or ``s3://BUCKET``; :func:`open_driver` gives the driver that reads and writes there.

Swift and S3 are configured as Cinder configures its drivers, from an operator's cinder.conf
(``--cinder-config``: its ``[DEFAULT]`` section's ``backup_swift_*``, ``backup_s3_*``,
``backup_compression_algorithm`` and ``storage_availability_zone``), else from each
ecosystem's own environment: python-swiftclient's ``ST_AUTH``/``ST_USER``/``ST_KEY`` or the
``OS_*`` variables for Swift, boto3's own chain (``AWS_ACCESS_KEY_ID``, profiles,
``AWS_ENDPOINT_URL``, ...) for S3. No secret ever reaches a message.
"""

from __future__ import annotations

import configparser
import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from docket import fs
from docket.backup._chunks import Compression
from docket.backup._model import BasicMetadataAPI
from docket.backup.objects import (
    DEFAULT_AVAILABILITY_ZONE,
    DEFAULT_CONTAINER,
    DEFAULT_OBJECT_SIZE,
    DEFAULT_SHA_BLOCK_SIZE,
    ObjectStoreBackupDriver,
)
from docket.backup.posix import DEFAULT_CHUNK_SIZE, PosixBackupDriver
from docket.core.errors import DriverOptionError, UnsafeFile, UsageError, show
from docket.core.registry import Registry

__all__ = [
    "CONFIG_LIMIT",
    "KNOWN_OPTIONS",
    "SCHEMES",
    "CinderConfig",
    "open_driver",
    "read_cinder_config",
]

SCHEMES = ("swift", "s3")
CONFIG_LIMIT = 4 << 20
"""The most bytes a cinder.conf may have."""


# The options of Cinder's Swift and S3 backup drivers (cinder/backup/drivers/swift.py, s3.py)
# and the others docket reads: a backup_swift_* or backup_s3_* name not here, or a name a
# letter or two from one, is a typo Cinder (oslo.config) would ignore without a word.
KNOWN_OPTIONS = frozenset(
    {
        *(
            f"backup_swift_{name}"
            for name in [
                "url", "auth_url", "auth", "auth_version", "tenant", "user_domain", "user", "key",
                "container", "project_domain", "project", "object_size", "block_size",
                "retry_attempts", "retry_backoff", "enable_progress_timer", "ca_cert_file",
                "auth_insecure", "service_auth", "create_storage_policy",
            ]
        ),
        *(
            f"backup_s3_{name}"
            for name in [
                "endpoint_url", "store_access_key", "store_secret_key", "store_bucket",
                "object_size", "block_size", "enable_progress_timer", "http_proxy", "https_proxy",
                "timeout", "max_pool_connections", "retry_max_attempts", "retry_mode",
                "verify_ssl", "ca_cert_file", "md5_validation", "sse_customer_key",
                "sse_customer_algorithm",
            ]
        ),
        "backup_compression_algorithm",
        "storage_availability_zone",
    }
)


@dataclass(frozen=True)
class CinderConfig:
    """The ``[DEFAULT]`` options of a cinder.conf (names lower-case), and where it is."""

    options: Mapping[str, str]
    source: str = "cinder.conf"

    def doubts(self) -> list[str]:
        """What looks like a typo: each ``backup_swift_*``/``backup_s3_*`` option Cinder's
        drivers do not have, and each other option a letter or two from one docket reads
        (``backup_swfit_key``), with the known name it is closest to. Cinder ignores them;
        so does docket, which says so (a warning, not an error: the file works for Cinder)."""
        out = []
        for name in sorted(self.options):
            if name in KNOWN_OPTIONS:
                continue
            ours = name.startswith(("backup_swift_", "backup_s3_"))
            cutoff = 0.8 if ours else 0.85
            close = difflib.get_close_matches(name, KNOWN_OPTIONS, n=1, cutoff=cutoff)
            if ours or close:
                guess = f" (did you mean {close[0]}?)" if close else ""
                out.append(
                    f"{self.source}: [DEFAULT] {name} is not an option of Cinder's Swift "
                    f"or S3 backup driver{guess}: it is ignored"
                )
        return out

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.options.get(name)
        return default if value is None or value == "" else value

    def number(self, name: str, default: float, kind: Callable[[str], float] = int) -> Any:
        value = self.text(name)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            raise self._bad(name, value, "a number") from None

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise self._bad(name, value, "true or false")

    def _bad(self, name: str, value: str, wanted: str) -> DriverOptionError:
        return DriverOptionError(
            f"{self.source}: {name} = {show(value)} is not {wanted}",
            hint="fix the option in the [DEFAULT] section",
        )


def read_cinder_config(path: str | os.PathLike[str]) -> CinderConfig:
    """The ``[DEFAULT]`` options of the cinder.conf at ``path`` (a regular file, bounded);
    a file that cannot be read or parsed is a usage error of ``--cinder-config``."""
    try:
        raw = fs.read_bounded(path, CONFIG_LIMIT, what="cinder config")
    except UnsafeFile as err:
        raise UsageError("--cinder-config", err.describe(), "give the cinder.conf itself") from None
    except OSError as err:
        raise UsageError("--cinder-config", f"cannot read {path}: {err.strerror}") from None
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="\0")
    try:
        parser.read_string(raw.decode("utf-8", "replace"), source=str(path))
    except configparser.Error as err:
        line = getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise UsageError(
            "--cinder-config",
            f"{where}: not an INI file ({type(err).__name__})",
            "cinder.conf is an oslo.config INI file with a [DEFAULT] section",
        ) from None
    if not parser.has_section("DEFAULT"):
        found = ", ".join(f"[{name}]" for name in parser.sections()[:10]) or "none"
        raise UsageError(
            "--cinder-config",
            f"{path} has no [DEFAULT] section (its sections: {show(found)})",
            "Cinder reads the backup_swift_*, backup_s3_* and backup_compression_algorithm "
            "options from [DEFAULT]",
        )
    section = dict(parser["DEFAULT"])
    return CinderConfig({k.lower(): v.strip() for k, v in section.items()}, str(path))


def _scheme(root: str | os.PathLike[str]) -> tuple[str | None, str]:
    text = os.fspath(root)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return None, text
    if scheme not in SCHEMES:
        raise DriverOptionError(
            f"root {show(text)} names an unknown store {show(scheme)}",
            hint="use a directory, swift://CONTAINER or s3://BUCKET",
        )
    return scheme, rest.rstrip("/")


def open_driver(
    root: str | os.PathLike[str],
    metadata_api: BasicMetadataAPI | None = None,
    *,
    registry: Registry | None = None,
    compression: str | Compression | None = None,
    chunk_size: int | None = None,
    cinder_config: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PosixBackupDriver | ObjectStoreBackupDriver:
    """The backup driver of ``root``: a directory, ``swift://CONTAINER`` or ``s3://BUCKET``.

    ``compression`` and ``chunk_size`` not given come from the cinder.conf
    (``backup_compression_algorithm``, ``backup_swift_object_size``...), else Cinder's
    defaults for the store (zlib; 52428800 bytes for Swift and S3, 64 MiB on POSIX here).
    """
    scheme, where = _scheme(root)
    config = CinderConfig({}) if cinder_config is None else read_cinder_config(cinder_config)
    env = os.environ if environ is None else environ
    chosen = compression or config.text("backup_compression_algorithm") or Compression.ZLIB
    # Cinder's backup service is in storage_availability_zone ("nova" unless set): the zone
    # its backups' records say. Without a cinder.conf a POSIX root's is not known.
    zone = config.text("storage_availability_zone", DEFAULT_AVAILABILITY_ZONE)
    if scheme is None:
        return PosixBackupDriver(
            where,
            metadata_api,
            registry=registry,
            compression=chosen,
            chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
            availability_zone=None if cinder_config is None else zone,
        )
    # swift:// or s3:// alone: the container cinder.conf names, else Cinder's default.
    option = "backup_swift_container" if scheme == "swift" else "backup_s3_store_bucket"
    common: dict[str, Any] = {
        "container": where or config.text(option) or DEFAULT_CONTAINER,
        "availability_zone": zone,
        "registry": registry,
        "compression": chosen,
    }
    if scheme == "swift":
        from docket.backup.swift import SwiftBackupDriver

        return SwiftBackupDriver(
            _swift_store(config, env),
            metadata_api,
            chunk_size=chunk_size or config.number("backup_swift_object_size", DEFAULT_OBJECT_SIZE),
            sha_block_size=config.number("backup_swift_block_size", DEFAULT_SHA_BLOCK_SIZE),
            **common,
        )
    from docket.backup.s3 import S3BackupDriver

    return S3BackupDriver(
        _s3_store(config),
        metadata_api,
        chunk_size=chunk_size or config.number("backup_s3_object_size", DEFAULT_OBJECT_SIZE),
        sha_block_size=config.number("backup_s3_block_size", DEFAULT_SHA_BLOCK_SIZE),
        **common,
    )


def _swift_store(config: CinderConfig, env: Mapping[str, str]) -> Any:
    from docket.backup.swift import SwiftStore

    settings: dict[str, Any] = {
        "retries": config.number("backup_swift_retry_attempts", 3),
        "backoff": config.number("backup_swift_retry_backoff", 2, float),
        "cacert": config.text("backup_swift_ca_cert_file"),
        "insecure": config.flag("backup_swift_auth_insecure", False),
    }
    auth = config.text("backup_swift_auth")
    if auth == "single_user":
        os_options = {
            key: value
            for key, option in (
                ("user_domain_name", "backup_swift_user_domain"),
                ("project_domain_name", "backup_swift_project_domain"),
                ("project_name", "backup_swift_project"),
                ("tenant_name", "backup_swift_tenant"),
            )
            if (value := config.text(option)) is not None
        }
        return SwiftStore(
            auth_url=_required(config, "backup_swift_auth_url"),
            user=_required(config, "backup_swift_user"),
            key=_required(config, "backup_swift_key"),
            auth_version=_auth_version(config),
            os_options=os_options,
            **settings,
        )
    if auth == "per_user":
        # Cinder's per_user: the storage URL is backup_swift_url + the project id, the token
        # the user's; docket reads both from the OpenStack environment.
        base = _required(config, "backup_swift_url")
        project, token = env.get("OS_PROJECT_ID"), env.get("OS_AUTH_TOKEN")
        if not project or not token:
            raise DriverOptionError(
                f"{config.source}: backup_swift_auth = per_user needs the user's token",
                hint="set OS_AUTH_TOKEN and OS_PROJECT_ID (or use single_user)",
            )
        return SwiftStore(storage_url=base + project, token=token, **settings)
    if auth is not None:
        raise DriverOptionError(
            f"{config.source}: backup_swift_auth = {show(auth)} is not per_user or single_user"
        )
    return _swift_from_env(env, settings)


def _swift_from_env(env: Mapping[str, str], settings: dict[str, Any]) -> Any:
    from docket.backup.swift import SwiftStore

    if env.get("OS_STORAGE_URL") and env.get("OS_AUTH_TOKEN"):
        return SwiftStore(storage_url=env["OS_STORAGE_URL"], token=env["OS_AUTH_TOKEN"], **settings)
    if env.get("ST_AUTH"):
        _need(env, "ST_AUTH", ("ST_USER", "ST_KEY"))
        return SwiftStore(
            auth_url=env["ST_AUTH"],
            user=env.get("ST_USER"),
            key=env.get("ST_KEY"),
            auth_version=env.get("ST_AUTH_VERSION", "1"),
            **settings,
        )
    if env.get("OS_AUTH_URL"):
        _need(env, "OS_AUTH_URL", ("OS_USERNAME", "OS_PASSWORD"))
        os_options = {
            key: env[name]
            for key, name in (
                ("project_name", "OS_PROJECT_NAME"),
                ("tenant_name", "OS_TENANT_NAME"),
                ("user_domain_name", "OS_USER_DOMAIN_NAME"),
                ("project_domain_name", "OS_PROJECT_DOMAIN_NAME"),
                ("region_name", "OS_REGION_NAME"),
            )
            if env.get(name)
        }
        return SwiftStore(
            auth_url=env["OS_AUTH_URL"],
            user=env.get("OS_USERNAME"),
            key=env.get("OS_PASSWORD"),
            auth_version=env.get("OS_AUTH_VERSION") or env.get("OS_IDENTITY_API_VERSION") or "3",
            os_options=os_options,
            **settings,
        )
    raise DriverOptionError(
        "no Swift credentials",
        hint="set ST_AUTH, ST_USER and ST_KEY (or OS_AUTH_URL, OS_USERNAME, OS_PASSWORD...), "
        "or give --cinder-config with backup_swift_auth",
    )


def _need(env: Mapping[str, str], given: str, names: tuple[str, ...]) -> None:
    """Refuse credentials given in part (``ST_AUTH`` without ``ST_KEY``...) before any request:
    swiftclient would send them, fail, and retry with backoff."""
    missing = [name for name in names if not env.get(name)]
    if missing:
        raise DriverOptionError(
            f"{given} is set but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not",
            hint=f"set {', '.join((given, *names))} together",
        )


def _s3_store(config: CinderConfig) -> Any:
    from docket.backup.s3 import S3Store

    verify: bool | str | None = None
    if not config.flag("backup_s3_verify_ssl", True):
        verify = False
    elif config.text("backup_s3_ca_cert_file"):
        verify = config.text("backup_s3_ca_cert_file")
    return S3Store(
        endpoint_url=config.text("backup_s3_endpoint_url"),
        access_key=config.text("backup_s3_store_access_key"),
        secret_key=config.text("backup_s3_store_secret_key"),
        retries=config.number("backup_s3_retry_max_attempts", 4),
        retry_mode=config.text("backup_s3_retry_mode", "legacy") or "legacy",
        timeout=config.number("backup_s3_timeout", 60.0, float),
        max_pool_connections=config.number("backup_s3_max_pool_connections", 10),
        verify=verify,
        md5_validation=config.flag("backup_s3_md5_validation", True),
        sse_customer_key=config.text("backup_s3_sse_customer_key"),
        sse_customer_algorithm=config.text("backup_s3_sse_customer_algorithm"),
        http_proxy=config.text("backup_s3_http_proxy"),
        https_proxy=config.text("backup_s3_https_proxy"),
    )


def _auth_version(config: CinderConfig) -> str:
    """``backup_swift_auth_version``: 1 (Cinder's default), 2 or 3; anything else would reach
    swiftclient, which fails it as a request, retried with backoff."""
    value = config.text("backup_swift_auth_version", "1") or "1"
    if value not in ("1", "2", "3", "2.0", "3.0"):
        raise config._bad("backup_swift_auth_version", value, "1, 2 or 3")
    return value


def _required(config: CinderConfig, name: str) -> str:
    value = config.text(name)
    if value is None:
        raise DriverOptionError(
            f"{config.source}: {name} is not set", hint="Cinder's driver needs it too"
        )
    return value
