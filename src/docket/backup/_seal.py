"""A signed seal over what restore trusts: a backup's object list and its ``_sha256file``.

With a signing key configured, a backup's ``_metadata`` object gets one more member,
``docket_seal``: the SHA-256 of the ``_sha256file`` object's bytes and an HMAC-SHA256, under
the key, over the backup's id, volume id, parent id, object list (offsets, lengths,
compressions, MD5s) and that digest. Cinder reads ``_metadata`` by the members it knows and
passes over this one, so a sealed backup still restores with Cinder.

Restore and verify check every block against the ``_sha256file`` and every object against its
MD5: with the seal, someone who can write the backup storage but does not hold the key cannot
change what those checks compare against. With a key configured, a backup without a valid
seal is refused before anything is read or written.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from docket.backup.errors import InvalidBackup
from docket.core.codec import canonical

SEAL = "docket_seal"
_PREFIX = "hmac-sha256:"
_COVERED = ("backup_id", "volume_id", "parent_id", "objects")


def sha256file_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def seal_of(metadata: Mapping[str, Any], sha256file: str, key: bytes) -> dict[str, str]:
    """The ``docket_seal`` member for a backup's metadata and its sha256file's digest."""
    covered = {name: metadata.get(name) for name in _COVERED} | {"sha256file": sha256file}
    mac = hmac.new(key, canonical(covered), hashlib.sha256).hexdigest()
    return {"sha256file": sha256file, "signature": _PREFIX + mac}


def check_seal(metadata: Mapping[str, Any], sha256file: str, key: bytes, backup_id: str) -> None:
    """Refuse (:class:`InvalidBackup`) a backup whose seal is missing or does not match."""
    seal = metadata.get(SEAL)
    if not isinstance(seal, dict) or not isinstance(seal.get("signature"), str):
        raise InvalidBackup(
            "the backup is not sealed, and a signing key is configured",
            backup_id=backup_id,
            path=(SEAL,),
            hint="with a key, docket trusts only backups it sealed with that key; restore "
            "without --key-file to restore an unsealed backup you trust",
        )
    expected = seal_of(metadata, sha256file, key)
    if seal.get("sha256file") != sha256file or not hmac.compare_digest(
        str(seal["signature"]), expected["signature"]
    ):
        raise InvalidBackup(
            "the seal does not match the object list and sha256file (altered, or sealed "
            "with another key)",
            backup_id=backup_id,
            path=(SEAL,),
            hint="nothing was restored; `docket volume verify` lists what differs",
        )
