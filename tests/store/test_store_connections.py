"""A library caller's engine and a DBA's database failing the ways real deployments fail.

A caller who made the engine (``store.make_engine(url)``, as Cinder's drivers do) meets a
server that is down (from the start, or gone down under a long-lived engine), a wrong
password or database name as :class:`DatabaseUnreachable`, as the command line does; a row
another transaction holds locked past the database's lock timeout is :class:`LockTimeout`;
either way nothing is written and no URL password is shown.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from docket import store
from docket.cli import commands
from docket.errors import DatabaseUnreachable, LockTimeout, UsageError
from tests._databases import SERVER_URLS, SERVERS, backend_params, dump, require, scratch_database
from tests._store import DST, SRC, source_volume, target_volume

SECRET = "pa55-w0rd-xyz"

# How each server is told to give up on a lock after a second, in the URL a DBA would write.
LOCK_TIMEOUT_QUERY = {
    "postgresql": {"options": "-c lock_timeout=1000"},
    "mariadb": {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"},
}


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("driver", ["postgresql+psycopg", "mysql+pymysql"])
@pytest.mark.parametrize("call", ["get", "put"])
def test_a_server_that_is_down_is_unreachable_for_an_engine_the_caller_made(
    driver: str, call: str
) -> None:
    port = _closed_port()
    engine = store.make_engine(f"{driver}://cinder:{SECRET}@127.0.0.1:{port}/cinder")
    api = store.BackupMetadataAPI(engine)
    with pytest.raises(DatabaseUnreachable) as info:
        if call == "get":
            api.get(DST)
        else:
            api.put(DST, '{"version": 2, "volume-base-metadata": {}}')
    assert info.value.where == f"127.0.0.1:{port}"
    assert "check that the server runs" in info.value.hint
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("backend", backend_params(SERVERS))
def test_a_wrong_database_name_or_password_is_unreachable_for_the_callers_engine(
    backend: str,
) -> None:
    require(backend)
    base = sa.make_url(SERVER_URLS[backend])
    for url in (base.set(database="docket_no_such_db"), base.set(password=SECRET)):
        if backend == "postgresql" and url.password:
            continue  # the test server trusts every local connection: no password is wrong
        engine = store.make_engine(url)
        try:
            with pytest.raises(DatabaseUnreachable) as info:
                store.BackupMetadataAPI(engine).get(DST)
        finally:
            engine.dispose()
        assert SECRET not in str(info.value)
        assert info.value.where.startswith("127.0.0.1:")


class Forwarder:
    """A TCP forwarder on 127.0.0.1 to a database server; :meth:`down` stops listening and
    cuts every connection, as a server that went down (or a network partition) does."""

    def __init__(self, port: int) -> None:
        self._upstream = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self._listener.accept()
            except OSError:
                return
            far = socket.create_connection(("127.0.0.1", self._upstream))
            self._sockets += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)

    def down(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.mark.parametrize("backend", backend_params(SERVERS))
def test_a_server_gone_down_under_a_long_lived_engine_is_unreachable(
    backend: str, tmp_path: Path
) -> None:
    # cinder-backup keeps one engine for weeks: its pooled connection dies with the server,
    # and the new one a restore then asks for cannot be made.
    with scratch_database(backend, tmp_path) as url:
        store.init_db(url)
        setup = store.make_engine(url)
        source_volume(setup)
        target_volume(setup)
        setup.dispose()
        parsed = sa.make_url(url)
        assert parsed.port is not None
        forwarder = Forwarder(parsed.port)
        engine = store.make_engine(parsed.set(host="127.0.0.1", port=forwarder.port))
        try:
            api = store.BackupMetadataAPI(engine)
            text = api.get(SRC)
            api.put(DST, text)  # the pool now holds a connection through the forwarder
            forwarder.down()
            with pytest.raises(DatabaseUnreachable) as restoring:
                api.put(DST, text)
            with pytest.raises(DatabaseUnreachable) as backing_up:
                api.get(SRC)
        finally:
            engine.dispose()
        for info in (restoring, backing_up):
            assert info.value.where == f"127.0.0.1:{forwarder.port}"


def test_a_url_given_for_the_engine_is_a_usage_error_that_does_not_show_it() -> None:
    url = f"mysql+pymysql://cinder:{SECRET}@db/cinder"
    with pytest.raises(UsageError) as info:
        store.BackupMetadataAPI(url)  # type: ignore[arg-type]
    assert "make_engine" in info.value.hint
    assert SECRET not in str(info.value)


@pytest.fixture(params=backend_params(SERVERS))
def locked(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, sa.Engine]]:
    """A database whose target volume DST another transaction holds locked
    (``SELECT ... FOR UPDATE``), and a URL to it that waits a second for a lock."""
    backend: str = request.param
    with scratch_database(backend, tmp_path) as url:
        store.init_db(url)
        engine = store.make_engine(url)
        source_volume(engine)
        target_volume(engine)
        waiting = sa.make_url(url).update_query_dict(LOCK_TIMEOUT_QUERY[backend])
        holder = sa.create_engine(url)
        try:
            with holder.connect() as conn, conn.begin():
                volumes = store.cinder_metadata().tables["volumes"]
                conn.execute(sa.select(volumes.c.id).where(volumes.c.id == DST).with_for_update())
                yield waiting.render_as_string(hide_password=False), engine
        finally:
            holder.dispose()
            engine.dispose()


def test_a_lock_held_past_the_lock_timeout_is_lock_timeout_and_writes_nothing(
    locked: tuple[str, sa.Engine],
) -> None:
    url, engine = locked
    text = store.BackupMetadataAPI(engine).get(SRC)
    before = dump(engine)
    waiting = store.make_engine(url)
    try:
        with pytest.raises(LockTimeout) as info:
            store.BackupMetadataAPI(waiting).put(DST, text)
    finally:
        waiting.dispose()
    assert "another transaction holds the volume's rows" in info.value.hint
    assert "nothing was written" in info.value.hint
    assert dump(engine) == before


def test_the_cli_reports_a_lock_timeout_in_one_line_with_exit_1(
    locked: tuple[str, sa.Engine], tmp_path: Path
) -> None:
    url, engine = locked
    path = tmp_path / "vol.json"
    path.write_text(store.BackupMetadataAPI(engine).get(SRC))
    before = dump(engine)
    out, err = io.StringIO(), io.StringIO()
    code = commands.restore(url, DST, str(path), stdout=out, stderr=err)
    assert code == commands.EXIT_FAILED
    assert "gave up waiting for a lock" in err.getvalue()
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""
    assert dump(engine) == before

