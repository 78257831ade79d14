"""Objects compressed piece by piece are one stream that the one-shot decompressors Cinder's
restore uses read back whole, and that docket's own streaming reader reads too."""

from __future__ import annotations

import bz2
import io
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docket.backup._chunks import Compression, ObjectDamaged, object_pieces
from docket.backup._compress import (
    COMPRESS_PIECE,
    WINDOW,
    PieceStream,
    adler32_combine,
)

_ONE_SHOT = {Compression.ZLIB: zlib.decompress, Compression.BZ2: bz2.decompress}

# Bytes that compress (runs, repeats) and bytes that do not, cut into pieces of any size.
_chunks = st.lists(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=40), st.integers(1, 2000)),
    ),
    max_size=12,
)


def _compress(compression: Compression, pieces: list[bytes]) -> bytes:
    stream = PieceStream(compression)
    out = []
    before = b""
    for piece in pieces:
        out.append(stream.add(COMPRESS_PIECE[compression](piece, before[-WINDOW:])))
        before += piece
    out.append(stream.tail())
    return b"".join(out)


@settings(max_examples=150, deadline=None)
@given(pieces=_chunks, compression=st.sampled_from([Compression.ZLIB, Compression.BZ2]))
def test_pieces_make_one_stream(pieces: list[bytes], compression: Compression) -> None:
    data = b"".join(pieces)
    stored = _compress(compression, pieces)
    assert _ONE_SHOT[compression](stored) == data
    read = b"".join(object_pieces(io.BytesIO(stored), compression, len(data)))
    assert read == data


@given(st.binary(max_size=5000), st.binary(max_size=5000))
def test_adler32_combine_is_zlibs(first: bytes, second: bytes) -> None:
    combined = adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_data_after_the_last_bz2_stream_is_damage() -> None:
    stored = bz2.compress(b"a" * 100) + bz2.compress(b"b" * 100) + b"junk"
    with pytest.raises(ObjectDamaged, match="after the end"):
        b"".join(object_pieces(io.BytesIO(stored), Compression.BZ2, 200))


def test_pieces_that_do_not_compress_are_stored_in_the_stream() -> None:
    # Random segments (stored as they are) between text and zeros (deflated), in one zlib
    # stream that Cinder's zlib.decompress and docket's reader read back whole.
    rng = random.Random(26)
    text = b" ".join(rng.choice([b"alpha", b"beta", b"gamma"]) for _ in range(40000))
    pieces = [
        rng.randbytes(1 << 20),
        text[: 300 << 10] + rng.randbytes(200 << 10) + bytes(300 << 10),
        bytes(5000) + rng.randbytes(70000),
    ]
    blob = _compress(Compression.ZLIB, pieces)
    whole = b"".join(pieces)
    assert zlib.decompress(blob) == whole
    assert b"".join(object_pieces(io.BytesIO(blob), Compression.ZLIB, len(whole))) == whole
    # Stored: barely larger than the random bytes; the text and zeros still shrink.
    assert len(blob) < (1 << 20) + (200 << 10) + 70000 + (100 << 10)


_STDLIB_SIDE = """
import sys
sys.modules["zlib_ng"] = None  # as on a platform without zlib-ng's wheel
from pathlib import Path
from docket.backup import Backup
from docket.backup._deflate import zlib
from docket.backup.posix import PosixBackupDriver
assert zlib.__name__ == "zlib", zlib.__name__
root, volume, target, op = sys.argv[1:5]
driver = PosixBackupDriver(root, compression="zlib", chunk_size=1 << 20)
if op == "backup":
    driver.backup(Backup(id="stdlib", volume_id="v"), volume)
else:
    driver.restore("ng1", None, target)
"""


def test_zlib_ng_and_the_standard_librarys_zlib_read_each_others_backups(tmp_path: Path) -> None:
    """Without zlib-ng the engine falls back to the standard library's zlib, and each reads
    what the other wrote (text, zero runs and random bytes over several objects)."""
    from docket.backup import Backup
    from docket.backup._deflate import zlib as engine_zlib
    from docket.backup.posix import PosixBackupDriver

    assert engine_zlib.__name__ == "zlib_ng.zlib_ng"  # the dependency is what runs here
    rng = random.Random(7)
    words = [rng.randbytes(4).hex() for _ in range(300)]
    parts = [" ".join(rng.choice(words) for _ in range(60_000)).encode(), bytes(1 << 20),
             rng.randbytes(700_000)]
    volume = tmp_path / "volume"
    volume.write_bytes(b"".join(parts * 2))
    root = tmp_path / "root"
    root.mkdir()
    driver = PosixBackupDriver(root, compression="zlib", chunk_size=1 << 20)
    driver.backup(Backup(id="ng1", volume_id="v"), str(volume))

    def child(op: str, target: Path) -> None:
        subprocess.run([sys.executable, "-c", _STDLIB_SIDE, str(root), str(volume),
                        str(target), op], check=True, timeout=120)

    by_stdlib = tmp_path / "restored-by-stdlib"
    child("restore", by_stdlib)
    assert by_stdlib.read_bytes() == volume.read_bytes()
    child("backup", tmp_path / "unused")
    by_ng = tmp_path / "restored-by-ng"
    driver.restore("stdlib", None, str(by_ng))
    assert by_ng.read_bytes() == volume.read_bytes()
