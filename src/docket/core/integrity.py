"""Integrity digests and HMAC signatures over canonical container bytes.

The digest (``sha256:<hex>``) covers the sections: every member but ``version``, ``family`` and
the integrity members themselves. The signature (``hmac-sha256:<hex>``) covers the whole
container except the signature, so the version, the family and the digest are signed too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docket.core.codec import canonical
from docket.core.errors import DigestMismatch, SignatureError, show

# hashlib and hmac are imported when the first digest is made (:func:`_openssl`):
# containers of versions without integrity members (v1 and v2, what Cinder writes) never
# need them, and loading OpenSSL costs each command's start-up about 5 ms.

HEADER_MEMBERS = frozenset({"version", "family"})
SIGNATURE_PREFIX = "hmac-sha256:"
DIGEST_PREFIX = "sha256:"

_sha256: Any = None
_compare: Any = None


def _openssl() -> None:
    """Bind ``hashlib.sha256`` and ``hmac.compare_digest`` (once: an import statement per
    digest costs a tenth of a small container's check)."""
    global _sha256, _compare
    import hashlib
    import hmac

    _sha256, _compare = hashlib.sha256, hmac.compare_digest


@dataclass(frozen=True)
class Integrity:
    """Which members of a version's containers hold the digest and the signature."""

    digest: str = "digest"
    signature: str | None = "signature"

    @functools.cached_property
    def excluded(self) -> frozenset[str]:
        """The members the digest does not cover (the version, the family, the integrity
        members)."""
        members = {self.digest} | ({self.signature} if self.signature else set())
        return HEADER_MEMBERS | members

    def digest_of(self, data: Mapping[str, Any], covered: bytes | None = None) -> str:
        """The digest of ``data``; ``covered``, when given, is already the canonical bytes
        of its covered members (:func:`~docket.core.codec.parse_sealed` gives them)."""
        if _sha256 is None:
            _openssl()
        if covered is None:
            excluded = self.excluded
            covered = canonical({k: v for k, v in data.items() if k not in excluded})
        hexdigest: str = _sha256(covered).hexdigest()
        return DIGEST_PREFIX + hexdigest

    def signature_of(self, data: Mapping[str, Any], key: bytes) -> str:
        import hashlib
        import hmac

        signed = {k: v for k, v in data.items() if k != self.signature}
        mac = hmac.new(key, canonical(signed), hashlib.sha256).hexdigest()
        return SIGNATURE_PREFIX + mac

    def seal(self, data: dict[str, Any], key: bytes | None) -> dict[str, Any]:
        """Set the digest, and the signature when a key is given (otherwise drop a stale one)."""
        if self.signature:
            data.pop(self.signature, None)
        data[self.digest] = self.digest_of(data)
        if key is not None and self.signature:
            data[self.signature] = self.signature_of(data, key)
        return data

    def strip(self, data: dict[str, Any]) -> dict[str, Any]:
        data.pop(self.digest, None)
        if self.signature:
            data.pop(self.signature, None)
        return data

    def verify(
        self, data: Mapping[str, Any], key: bytes | None, covered: bytes | None = None
    ) -> str:
        """Check the digest, and the signature when ``key`` is set (``covered``: see
        :meth:`digest_of`).

        Returns the signature status: ``"verified"``, ``"unverified"`` (signed, no key given)
        or ``"absent"``. Raises :class:`DigestMismatch` or :class:`SignatureError`.
        """
        found = data.get(self.digest)
        expected = self.digest_of(data, covered)
        if not isinstance(found, str) or not _compare(found, expected):
            raise DigestMismatch(expected, show(found))
        sig = data.get(self.signature) if self.signature else None
        if key is None:
            return "absent" if sig is None else "unverified"
        path = (self.signature or "signature",)
        if sig is None:
            raise SignatureError(
                "the container is not signed and a signing key is configured",
                path=path,
                hint="re-export it from the source with the operator key, or restore without a key",
            )
        if not isinstance(sig, str) or not _compare(sig, self.signature_of(data, key)):
            raise SignatureError(
                "the signature does not match the content or the key",
                path=path,
                hint="the container was altered or signed with another key",
            )
        return "verified"
