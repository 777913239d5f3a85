"""bench/scale/paced.py, the open-loop load of bench_scale's votes-rate phase, against a
small HTTP server whose answers take a set time: what it reports is what it claims."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bench.scale.paced import paced


class SlowServer:
    """HTTP/1.1 with keep-alive on loopback: each answer takes `delay` seconds, one at a
    time when `serial` (a site that answers 1/delay requests a second at most); a path
    starting /fail is answered 500."""

    def __init__(self, delay: float, serial: bool):
        self.delay, self.serial = delay, serial
        self.port = 0
        self.connections = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if self.serial:
                    async with self._lock:
                        await asyncio.sleep(self.delay)
                else:
                    await asyncio.sleep(self.delay)
                status = b"500 Internal Server Error" if head.split(b" ")[1].startswith(b"/fail") else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> SlowServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


VOTE = ("POST", "/song/1/vote", "value=up", {"Content-Type": "application/x-www-form-urlencoded"})


def test_requests_go_out_at_the_rate_and_wait_no_longer_than_the_answer():
    with SlowServer(delay=0.02, serial=False) as server:
        result = paced(server.port, [VOTE], rate=100, duration=2.0)
    assert 140 <= result["requests"] <= 260 and result["offered"] == pytest.approx(result["requests"] / 2.0)
    assert result["non_2xx"] == 0 and result["socket_errors"] == {}
    assert 20 <= result["p50"] < 60 and result["p99"] < 150
    assert server.connections < 20  # connections are kept alive and reused


def test_a_site_slower_than_the_rate_shows_the_queue_in_the_latency():
    """25 requests a second to a site that answers 10: an open loop keeps sending, so the
    latency grows with the queue (a closed loop would wait and report about 0.1 s)."""
    with SlowServer(delay=0.1, serial=True) as server:
        result = paced(server.port, [VOTE], rate=25, duration=2.0, timeout=30)
    assert result["p99"] > 1500 and result["p50"] > 500
    assert result["rps"] < 15


def test_error_answers_and_timeouts_are_counted():
    requests = [VOTE, ("GET", "/fail", "", {})]
    with SlowServer(delay=0.01, serial=False) as server:
        result = paced(server.port, requests, rate=50, duration=1.0)
    assert result["non_2xx"] == pytest.approx(result["requests"] / 2, abs=1)
    with SlowServer(delay=1.0, serial=False) as server:
        result = paced(server.port, [VOTE], rate=20, duration=0.5, timeout=0.3)
    assert result["socket_errors"] == {"timeout": result["requests"]}
