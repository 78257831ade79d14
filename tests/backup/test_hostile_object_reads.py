"""An attacker who writes the Swift container or S3 bucket (or stands in front of it)
against restore and verify: a resumed read served other bytes, decompression bombs, names
that differ only by Unicode normalisation or are written in other digits.
Each is refused with the target unchanged, or read as what it is.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import zlib

import pytest

from docket.backup import Backup, InvalidBackup
from docket.backup.objects import ObjectStoreBackupDriver
from tests._fault_proxy import FaultProxy, Rule
from tests.backup import test_object_store_faults as faults

BEFORE = faults.BEFORE
saio = faults.saio
proxy = faults.proxy
setup = faults.setup
"""A backup of three data objects (Swift; S3 in the slow group), through the proxy."""
Setup = faults.Setup


def _name(done: Backup, suffix: str) -> str:
    return f"{done.service_metadata}{suffix}"


# --- a read resumed with a Range request, served other bytes ---------------------------------


@pytest.mark.parametrize(("suffix", "cut"), [("-00002", 5000), ("_sha256file", 500)])
def test_a_resumed_read_served_other_bytes_is_refused_never_mixed(
    setup: Setup, proxy: FaultProxy, suffix: str, cut: int
) -> None:
    """The body breaks off after ``cut`` bytes; docket resumes it with a Range GET and the
    store serves other bytes for the rest. The mix never reaches the target: a data object's
    MD5 and blocks refuse it; the sha256file that no longer parses as the usual form is read
    again whole (and, with a key, its seal is over the bytes used), so the restore is refused
    or restores exactly the volume."""
    driver, done, target, data = setup
    tail = _name(done, suffix).rpartition("/")[2]
    proxy.add(Rule("GET", tail, "reset", cut, times=1), Rule("GET", tail, "flip", times=1))
    try:
        driver.restore(done, None, target)
    except InvalidBackup:
        assert target.read_bytes() == BEFORE
    else:
        assert suffix == "_sha256file"
        assert target.read_bytes() == data
    assert [rule.hits for rule in proxy.rules] == [1, 1]  # the Range GET got other bytes


# --- decompression bombs ---------------------------------------------------------------------


def _bomb(kind: str, size: int) -> bytes:
    if kind == "zlib":
        z = zlib.compressobj(9)
        zero = bytes(1 << 20)
        return b"".join(z.compress(zero) for _ in range(size >> 20)) + z.flush()
    import zstandard

    # Streamed without a content size: the frame does not say how much it inflates to.
    c = zstandard.ZstdCompressor(level=3).compressobj()
    zero = bytes(1 << 20)
    return b"".join(c.compress(zero) for _ in range(size >> 20)) + c.flush()


@pytest.mark.parametrize("kind", ["zlib", "zstd"])
def test_a_decompression_bomb_is_stopped_at_its_declared_length(
    setup: Setup, kind: str
) -> None:
    """An object replaced by 64 MiB of zeros compressed to a few dozen KB, with the
    metadata object's MD5 and compression rewritten to match (no key: anyone can): refused
    as longer than declared, target unchanged."""
    driver, done, target, _ = setup
    store, container = driver.store, driver.container
    bomb = _bomb(kind, 64 << 20)
    name = _name(done, "-00002")
    store.put_object(container, name, bomb, md5=hashlib.md5(bomb).hexdigest())
    meta_name = _name(done, "_metadata")
    with store.open_object(container, meta_name) as fh:
        meta = json.loads(fh.read())
    for entry in meta["objects"]:
        for key, value in entry.items():
            if key.endswith("-00002"):
                value.update(md5=hashlib.md5(bomb).hexdigest(), compression=kind)
    text = json.dumps(meta).encode()
    store.put_object(container, meta_name, text, md5=hashlib.md5(text).hexdigest())
    with pytest.raises(InvalidBackup, match="holds more than its 1048576 bytes"):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    assert driver.verify("b-1").problems


# --- names: Unicode digits, normalisation ----------------------------------------------------


def _rename_in_metadata(driver: ObjectStoreBackupDriver, done: Backup, old: str, new: str) -> None:
    store, container = driver.store, driver.container
    with store.open_object(container, old) as fh:
        body = fh.read()
    store.put_object(container, new, body, md5=hashlib.md5(body).hexdigest())
    store.delete_object(container, old)
    meta_name = _name(done, "_metadata")
    with store.open_object(container, meta_name) as fh:
        meta = json.loads(fh.read())
    meta["objects"] = [{(new if k == old else k): v for k, v in e.items()} for e in meta["objects"]]
    text = json.dumps(meta).encode()
    store.put_object(container, meta_name, text, md5=hashlib.md5(text).hexdigest())


@pytest.mark.parametrize(
    "number",
    [
        "00002".translate(str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664"
                                                      "\u0665\u0666\u0667\u0668\u0669")),
        "0000\uff12",  # FULLWIDTH DIGIT TWO
        unicodedata.normalize("NFD", "00002\u00e9"),  # e + COMBINING ACUTE ACCENT
    ],
    ids=["arabic-indic", "fullwidth", "nfd"],
)
def test_a_metadata_object_naming_a_data_object_in_other_digits_is_refused(
    setup: Setup, number: str
) -> None:
    """``\\d`` matched every Unicode digit: an object ``-٠٠٠٠٢`` (which ``int()`` reads as 2),
    listed in the metadata object, was read as the backup's second and verify called it
    intact. Cinder never writes such a name: refused, as a name outside the backup."""
    driver, done, target, _ = setup
    _rename_in_metadata(driver, done, _name(done, "-00002"), _name(done, f"-{number}"))
    with pytest.raises(InvalidBackup, match="is not a name inside the backup"):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    assert [p.kind for p in driver.verify("b-1").problems] == ["metadata"]


def test_stray_names_differing_only_by_normalisation_are_each_reported(setup: Setup) -> None:
    """Two objects whose names differ only by NFC/NFD beside a backup: Swift keeps both;
    each is an object the metadata does not list, the restore is refused."""
    driver, done, target, _ = setup
    store, container = driver.store, driver.container
    names = {unicodedata.normalize(form, _name(done, "-00002\u00e9")) for form in ("NFC", "NFD")}
    assert len(names) == 2
    for name in names:
        store.put_object(container, name, b"x", md5=hashlib.md5(b"x").hexdigest())
    with pytest.raises(InvalidBackup, match="not in the metadata"):
        driver.restore(done, None, target)
    assert target.read_bytes() == BEFORE
    problems = driver.verify("b-1").problems
    assert {p.object for p in problems if p.kind == "unexpected"} == names
