"""What an object store's failure says of the client's own words: bounded, and never a
secret, wherever in the words the secret stands and whatever whitespace it holds."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docket.backup._http import DETAIL_MOST, Redactor, failure_detail
from docket.backup.errors import ObjectStoreError

secrets = st.text(min_size=3, max_size=40).filter(lambda s: s.strip() == s and s.strip())
words = st.text(max_size=400)


@given(secret=secrets, before=words, after=words)
def test_a_secret_never_reaches_the_detail(secret: str, before: str, after: str) -> None:
    detail = failure_detail(ValueError(before + secret + after), Redactor([secret]))
    assert secret not in detail or secret in failure_detail(
        ValueError(before + after), Redactor([])
    )
    assert len(detail) <= len("ValueError: ") + DETAIL_MOST


@given(before=words, after=words)
def test_a_key_near_the_cut_is_not_kept_in_part(before: str, after: str) -> None:
    key = "k3y-" + "x" * 30 + "-end"
    said = "a" * (DETAIL_MOST - 10) + key + after
    detail = failure_detail(ConnectionError(before + said), Redactor([key]))
    assert "k3y-" not in detail and "-end" not in detail


def test_the_detail_names_the_kind_and_keeps_the_words() -> None:
    detail = failure_detail(ValueError("Invalid  IPv6\nURL"), Redactor([]))
    assert detail == "ValueError: Invalid IPv6 URL"
    assert failure_detail(TimeoutError(), Redactor([])) == "TimeoutError"


def _closed_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("scheme", ["swift", "s3"])
def test_a_refused_connection_says_so_within_the_cut(scheme: str) -> None:
    """Swift's words for a closed port were cut before "Connection refused" (urllib3's
    wrappers fill the first 200 characters): what the system said now comes first."""
    pytest.importorskip("swiftclient" if scheme == "swift" else "boto3")
    url = f"http://127.0.0.1:{_closed_port()}"
    store: Any
    if scheme == "swift":
        from docket.backup.swift import SwiftStore

        store = SwiftStore(auth_url=f"{url}/auth/v1.0", user="u:v", key="s3cr3t", retries=0)
    else:
        from docket.backup.s3 import S3Store

        store = S3Store(endpoint_url=url, access_key="u", secret_key="s3cr3t", retries=1)
    with pytest.raises(ObjectStoreError) as info:
        store.list_objects("op-c", "")
    said = str(info.value)
    assert "Connection refused" in said, said
    assert "s3cr3t" not in said
