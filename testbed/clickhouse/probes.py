"""Is a node ready? ZooKeeper's four-letter words, ClickHouse's /ping, and a query that only
answers once a server has a ZooKeeper session. Each probe is one short exchange on 127.0.0.1."""

from __future__ import annotations

import socket

from clickhouse_driver import Client
from clickhouse_driver.errors import Error

TIMEOUT_S = 2.0


def ask(port: int, request: bytes) -> bytes:
    """Send request to 127.0.0.1:port and return everything answered until the peer closes."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
            s.sendall(request)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return b""


def zookeeper_mode(port: int) -> str | None:
    """`standalone`, `leader` or `follower` once the node serves clients, else None."""
    if ask(port, b"ruok") != b"imok":
        return None
    for line in ask(port, b"srvr").decode(errors="replace").splitlines():
        if line.startswith("Mode: "):
            return line.removeprefix("Mode: ").strip()
    return None  # it runs, but has no quorum yet


def clickhouse_answers(http_port: int) -> bool:
    answer = ask(http_port, b"GET /ping HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    return status[1:2] == [b"200"] and body == b"Ok.\n"


def clickhouse_sees_zookeeper(tcp_port: int) -> bool:
    """True once a query on ZooKeeper's root succeeds as the local-only `default` user."""
    client = Client(
        "127.0.0.1", tcp_port, user="default", connect_timeout=TIMEOUT_S, send_receive_timeout=10
    )
    try:
        client.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
    except (Error, OSError, EOFError):
        return False
    finally:
        client.disconnect()
    return True
