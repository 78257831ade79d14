"""The packed reading of a ``_sha256file`` (docket.backup._shalist): the same digests as the
list parsed whole, and every form it does not expect left to the family."""

from __future__ import annotations

import hashlib
import json

import pytest

from docket.backup._shalist import Digests, read_sha256file, split_sha256file

HEADER = {
    "backup_id": "b1",
    "volume_id": "v1",
    "backup_name": 'a "name" \u00e9',
    "backup_description": None,
    "created_at": "2026-01-01 00:00:00+00:00",
    "chunk_size": 32768,
    "version": "1.0.0",
}
HEXES = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20000)]


@pytest.mark.parametrize(
    "dump",
    [
        lambda d: json.dumps(d, sort_keys=True, indent=2),  # Cinder's and docket's form
        lambda d: json.dumps(d, ensure_ascii=False),
        lambda d: json.dumps(d, indent="\t", separators=(" ,  ", " :\n ")),
    ],
)
def test_packed_digests_are_the_listed_ones(dump: object) -> None:
    raw = dump({**HEADER, "sha256s": HEXES}).encode("utf-8")  # type: ignore[operator]
    split = split_sha256file(raw)
    assert split is not None
    header, packed = split.header, split.packed
    assert split.digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    # Read a few bytes at a time: tokens and items cut anywhere.
    small = [raw[at : at + 97] for at in range(0, len(raw), 97)][::-1]
    again = read_sha256file(lambda _: small.pop() if small else b"", 0)
    assert again is not None and again.packed == packed and again.header == header
    assert json.loads(header) == {**HEADER, "sha256s": []}
    assert bytes(packed) == b"".join(bytes.fromhex(h) for h in HEXES)
    digests = Digests(bytes(packed))
    assert len(digests) == len(HEXES) and digests[7].hex() == HEXES[7]


def test_an_empty_list() -> None:
    split = split_sha256file(json.dumps({**HEADER, "sha256s": []}).encode())
    assert split is not None and split.packed == b""


ITEM = '"' + "ab" * 32 + '"'


@pytest.mark.parametrize(
    "text",
    [
        '{"sha256s": ["' + "AB" * 32 + '"]}',  # upper case: the schema refuses it
        '{"sha256s": ["' + "ab" * 31 + '"]}',  # short
        '{"sha256s": ["' + "ab" * 16 + " " + "ab" * 16 + '"]}',  # whitespace inside
        '{"sha256s": ["' + "zz" * 32 + '"]}',
        '{"sha256s": [' + ITEM + " " + ITEM + "]}",  # no comma
        '{"sha256s": [' + ITEM + ",]}",
        '{"sha256s": [' + ITEM + ", ]}",
        '{"sha256s": [' + ITEM + ",," + ITEM + "]}",
        '{"sha256s": [' + ITEM + '], "sha256s": []}',  # twice
        '{"sha256s": [' + ITEM,  # never ends
        '{"sha256s": [' + ITEM + "]} trailing",
        '{"extra": {"nested": 1}, "sha256s": []}',  # left to the family
        '{"a": NaN, "sha256s": []}',
        '{"backup_id": "b1"}',  # no list
        "[]",
    ],
)
def test_other_forms_are_left_to_the_family(text: str) -> None:
    assert split_sha256file(text.encode()) is None


def test_a_duplicate_member_reaches_the_family() -> None:
    # Kept in the header text, where the family's codec refuses duplicate keys.
    split = split_sha256file(b'{"a": 1, "a": 2, "sha256s": []}')
    assert split is not None and split.header == b'{"a":1,"a":2,"sha256s":[]}'
