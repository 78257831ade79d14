"""What an object store's failure says of the client's own words: bounded, and never a
secret, wherever in the words the secret stands and whatever whitespace it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from docket.backup._http import DETAIL_MOST, Redactor, failure_detail

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
