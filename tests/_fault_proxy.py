"""A small fault-injecting HTTP proxy on 127.0.0.1 in front of the real Swift (and its S3).

Requests pass through unchanged (the ``Host`` header too, so S3 signatures still match) until
a :class:`Rule` matches one: then the proxy answers with a status of its own, cuts the body
off (a reset), stalls mid-body, or changes the ETag or a listing. Swift's auth answer is
rewritten so that the storage URL points at the proxy. Every request is counted, so a test
can show that retries are bounded.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Rule:
    """``action`` on the requests whose method is ``method`` and whose path contains
    ``path`` (and, when ``query`` is given, whose query contains it), ``times`` times
    (None: always)."""

    method: str
    path: str
    action: str
    """``status`` (answer ``arg``), ``reset`` (send ``arg`` bytes of the body, then close),
    ``stall`` (send ``arg`` bytes, then wait until the proxy stops), ``silent`` (read the
    request, answer nothing until the proxy stops), ``drop`` (reset the connection without an
    answer), ``etag`` (answer with ETag ``arg``), ``endless`` (a Swift listing that never
    ends), ``endless-s3`` (an S3 ListObjectsV2 that is always truncated), ``flip`` (forward
    the answer with every byte of its body XORed with 1: a store serving other bytes)."""
    arg: Any = None
    times: int | None = None
    query: str | None = None
    hits: int = field(default=0)


class FaultProxy:
    """The proxy: ``with FaultProxy(upstream_port) as proxy:`` serves on ``proxy.port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, *rules: Rule) -> None:
        with self._lock:
            self.rules.extend(rules)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and path in p)

    def match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            self.requests.append((method, path))
            where, _, query = path.partition("?")
            for rule in self.rules:
                if (
                    rule.method == method
                    and rule.path in where
                    and (rule.query is None or rule.query in query)
                    and (rule.times is None or rule.hits < rule.times)
                ):
                    rule.hits += 1
                    return rule
        return None


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            rule = proxy.match(self.command, self.path)
            if rule is not None and rule.action == "status":
                self._answer(int(rule.arg), {}, b"fault\n")
                return
            if rule is not None and rule.action == "endless":
                self._endless()
                return
            if rule is not None and rule.action == "endless-s3":
                self._endless_s3()
                return
            if rule is not None and rule.action == "silent":
                proxy.stopping.wait(120)
                self.close_connection = True
                return
            if rule is not None and rule.action == "drop":
                # SO_LINGER 0: the close sends a reset, not a clean end of stream.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            status, headers, data = self._forward(body)
            if rule is not None and rule.action == "etag":
                headers = [(k, rule.arg if k.lower() == "etag" else v) for k, v in headers]
            if rule is not None and rule.action == "flip":
                data = bytes(b ^ 1 for b in data)
            if rule is not None and rule.action in ("reset", "stall"):
                self._cut(status, headers, data, int(rule.arg), rule.action)
                return
            self._answer(status, dict(headers), data)

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _any

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP]
                upstream = f"127.0.0.1:{proxy.upstream[1]}"
                out = [
                    (k, v.replace(upstream, f"127.0.0.1:{proxy.port}"))
                    if k.lower() == "x-storage-url"
                    else (k, v)
                    for k, v in out
                ]
                if self.command == "HEAD":
                    declared = answer.getheader("Content-Length")
                    if declared is not None:
                        out.append(("Content-Length", declared))
                return answer.status, out, data
            finally:
                conn.close()

        def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            if self.command != "HEAD" or "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _cut(
            self, status: int, headers: list[tuple[str, str]], data: bytes, keep: int, how: str
        ) -> None:
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:keep])
            self.wfile.flush()
            if how == "stall":
                proxy.stopping.wait(120)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _endless(self) -> None:
            """A Swift JSON listing page of ``limit`` made-up names after the marker."""
            query = dict(
                part.split("=", 1) for part in self.path.partition("?")[2].split("&") if "=" in part
            )
            limit = int(query.get("limit", "1000"))
            prefix = query.get("prefix", "").replace("%2F", "/")
            start = int(query.get("marker", "").rpartition("-")[2] or 0) if "marker" in query else 0
            names = [{"name": f"{prefix}x-{n:012d}"} for n in _count(start + 1, limit)]
            self._answer(200, {"Content-Type": "application/json"}, json.dumps(names).encode())

        def _endless_s3(self) -> None:
            """An S3 ListObjectsV2 page of ``max-keys`` made-up names after ``start-after``
            (or the continuation token), always truncated."""
            query = urllib.parse.parse_qs(self.path.partition("?")[2])
            limit = int(query.get("max-keys", ["1000"])[0])
            prefix = query.get("prefix", [""])[0]
            after = (query.get("continuation-token") or query.get("start-after") or [""])[0]
            start = int(after.rpartition("-")[2] or 0) if after else 0
            keys = "".join(
                f"<Contents><Key>{prefix}x-{n:012d}</Key><Size>1</Size></Contents>"
                for n in _count(start + 1, limit)
            )
            last = f"{prefix}x-{start + limit:012d}"
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>bucket</Name><Prefix>{prefix}</Prefix><KeyCount>{limit}</KeyCount>"
                f"<MaxKeys>{limit}</MaxKeys><IsTruncated>true</IsTruncated>{keys}"
                f"<NextContinuationToken>{last}</NextContinuationToken></ListBucketResult>"
            ).encode()
            self._answer(200, {"Content-Type": "application/xml"}, body)

    return Handler


def _count(start: int, n: int) -> Iterator[int]:
    return iter(range(start, start + n))
