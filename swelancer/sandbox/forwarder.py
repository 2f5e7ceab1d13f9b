"""A TCP forwarder across network namespaces through one Unix socket (stdlib only, Python 3.8+).

Run inside containers as `python3 -c <this file's text> <mode> ...`, never imported there, so
it writes no file into any container. Two ends:

    relay  <socket> <ports> <deadline_s> <max_conns>
        in the network namespace of the served side: accepts on the Unix socket path; each
        connection starts with two bytes (big-endian) naming a port of <ports>, and is then
        relayed to 127.0.0.1:<port> (else [::1]:<port>) of this namespace.
    listen <socket> <ports> <deadline_s> <max_conns> [<host>]
        in the namespace of the side that reaches it: listens on 127.0.0.1:<port> (and [::1]
        where the namespace has IPv6; or on <host> alone) for each port, and relays each
        connection to <socket> with its port's two bytes first.

<ports> is a comma-separated list. Each end holds at most <max_conns> connections at once
(others are closed on arrival) and exits <deadline_s> seconds after it starts. Once it
listens it writes `ready` to <socket>.<mode>.ready (beside the socket for the relay, under
/tmp for the listening end), so that a starter can wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the file runs on the images' Python 3.8+
    from collections.abc import Awaitable, Callable

    Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

CHUNK = 65536
CONNECT_TRIES_S = 15.0
"""How long the listening end retries a Unix socket that is not there yet (the relay starts
beside it)."""


class Gate:
    """At most `limit` connections at once."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open = limit, 0

    def enter(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def leave(self) -> None:
        self.open -= 1


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (a half-close)."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, asyncio.IncompleteReadError):
        pass


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    """Both directions until both ends are done; then close both."""
    try:
        await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
    finally:
        for _, writer in (a, b):
            with contextlib.suppress(Exception):
                writer.close()


def ready(path: str) -> None:
    with open(path + ".tmp", "w") as out:
        out.write("ready\n")
    os.replace(path + ".tmp", path)


async def open_local(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to `port` on this namespace's loopback: IPv4 first, then IPv6."""
    try:
        return await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return await asyncio.open_connection("::1", port)


async def relay(path: str, ports: set[int], gate: Gate) -> asyncio.AbstractServer:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not gate.enter():
            writer.close()
            return
        try:
            head = await asyncio.wait_for(reader.readexactly(2), 30)
            port = int.from_bytes(head, "big")
            if port not in ports:
                return
            other = await asyncio.wait_for(open_local(port), 30)
            await splice((reader, writer), other)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):  # noqa: UP041 (3.8+)
            pass
        finally:
            gate.leave()
            with contextlib.suppress(Exception):
                writer.close()

    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = await asyncio.start_unix_server(serve, path)
    ready(path + ".relay.ready")
    return server


async def open_relay(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    until = loop.time() + CONNECT_TRIES_S
    while True:
        try:
            return await asyncio.open_unix_connection(path)
        except OSError:
            if loop.time() > until:
                raise
            await asyncio.sleep(0.2)


async def listen(path: str, ports: set[int], gate: Gate, host: str) -> list[asyncio.AbstractServer]:
    def serving(port: int) -> Handler:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not gate.enter():
                writer.close()
                return
            try:
                other = await open_relay(path)
                other[1].write(port.to_bytes(2, "big"))
                await splice((reader, writer), other)
            except OSError:
                pass
            finally:
                gate.leave()
                with contextlib.suppress(Exception):
                    writer.close()

        return serve

    servers: list[asyncio.AbstractServer] = []
    for port in sorted(ports):
        servers.append(await asyncio.start_server(serving(port), host, port))
        if host != "127.0.0.1":
            continue
        with contextlib.suppress(OSError):  # a namespace without IPv6 has no ::1
            servers.append(
                await asyncio.start_server(serving(port), "::1", port, family=socket.AF_INET6)
            )
    ready("/tmp/.swelancer-forwarder.listen.ready")
    return servers


async def run(
    mode: str, path: str, ports: set[int], deadline_s: float, limit: int, host: str
) -> None:
    gate = Gate(limit)
    if mode == "relay":
        servers = [await relay(path, ports, gate)]
    elif mode == "listen":
        servers = await listen(path, ports, gate, host)
    else:
        raise SystemExit(f"unknown mode {mode!r}: relay or listen")
    try:
        await asyncio.sleep(deadline_s)
    finally:
        for server in servers:
            server.close()


def main(argv: list[str]) -> None:
    mode, path, ports, deadline_s, limit = argv[:5]
    host = argv[5] if len(argv) > 5 else "127.0.0.1"
    wanted = {int(p) for p in ports.split(",") if p}
    asyncio.run(run(mode, path, wanted, float(deadline_s), int(limit), host))


if __name__ == "__main__":
    main(sys.argv[1:])
