"""A read-ahead hands out exactly its body's bytes, in order, whatever mix of read() and
readinto() sizes its reader asks for (whole pieces as they came, parts copied)."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from docket.backup._http import READ_PIECE, ReadAhead

_asks = st.lists(
    st.tuples(st.sampled_from(["read", "readinto"]),
              st.one_of(st.integers(0, 5000), st.just(READ_PIECE), st.just(-1))),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 3 * READ_PIECE + 7), asks=_asks)
def test_reads_of_any_size_give_the_body_in_order(size: int, asks: list[tuple[str, int]]) -> None:
    body = bytes(range(256)) * (size // 256 + 1)
    body = body[:size]
    ahead = ReadAhead(lambda: io.BytesIO(body))
    got = bytearray()
    try:
        for how, n in asks:
            if how == "read":
                part = ahead.read(n)
                assert part is not None
                assert n < 0 or len(part) <= n
            else:
                buffer = bytearray(max(n, 0))
                part = bytes(buffer[: ahead.readinto(buffer)])
            got += part
            assert ahead.tell() == len(got)
        got += ahead.read()
    finally:
        ahead.close()
    assert bytes(got) == body


def test_a_whole_piece_is_handed_out_as_it_came() -> None:
    """A reader asking for a piece's size gets the very bytes object the thread read."""
    pieces = [b"a" * READ_PIECE, b"b" * READ_PIECE]

    class Body(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return pieces.pop(0) if pieces else b""

    first, second = pieces
    ahead = ReadAhead(Body)
    try:
        assert ahead.read(READ_PIECE) is first
        assert ahead.read(READ_PIECE) is second
        assert ahead.read(READ_PIECE) == b""
    finally:
        ahead.close()
