"""Open-loop load: requests sent at a set rate, whatever the answers' speed.

wrk keeps --connections requests in flight and sends the next one on a connection as soon
as its answer arrives (a closed loop): it measures the most the site answers, and at that
rate every request queues behind the others, so its latency is the connections divided by
the rate, whatever the site does. Visitors do not wait for each other: they arrive at their
own pace. `paced` sends requests at exponential gaps (independent arrivals, a Poisson
process) averaging `rate` a second, each at its due time on an idle keep-alive connection
or a new one, and times each from its due time to the end of its answer: a request the
site makes wait, or that had to wait for a connection, counts all its waiting (no
"coordinated omission"). The result has the keys of bench_scale.wrk's, so phases of both
kinds share the table.

HTTP/1.1 on asyncio streams, with h11 (which uvicorn uses too) parsing the answers.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
from dataclasses import dataclass, field

import h11

KEEP_ALIVE_REUSE = 2.0  # seconds an idle connection is reused for (uvicorn keeps one 5 s)


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)  # ms, due time to the answer's end
    non_2xx: int = 0
    socket_errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.socket_errors[kind] = self.socket_errors.get(kind, 0) + 1


class _Connection:
    """One keep-alive HTTP/1.1 connection to the site."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer, self.http = reader, writer, h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, port: int, method: str, path: str, body: str, headers: dict) -> int:
        """Send one request and read its whole answer; its status."""
        payload = body.encode()
        fields = [("Host", f"127.0.0.1:{port}"), *headers.items()]
        if method == "POST":
            fields.append(("Content-Length", str(len(payload))))
        data = self.http.send(h11.Request(method=method, target=path, headers=fields))
        data += self.http.send(h11.Data(data=payload)) if payload else b""
        data += self.http.send(h11.EndOfMessage())
        self.writer.write(data)
        await self.writer.drain()
        status = None
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                chunk = await self.reader.read(65536)
                self.http.receive_data(chunk)  # b"" is the server closing: h11 raises if mid-answer
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.EndOfMessage):
                return status
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection before answering")

    def reusable(self) -> bool:
        if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
            self.http.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        self.writer.close()


async def _run(port: int, requests: list[tuple[str, str, str, dict]], rate: float, duration: float,
               timeout: float, seed: int) -> tuple[_Tally, int, float]:
    tally, idle, in_flight = _Tally(), [], set()
    rng, loop = random.Random(seed), asyncio.get_running_loop()

    def reuse() -> _Connection | None:
        """The idle connection used last, unless it has been idle so long that the server
        may be closing it (uvicorn closes one after 5 s): reusing that one would fail
        where a browser would retry, an error of this client and not of the site."""
        while idle:
            connection, since = idle.pop()
            if loop.time() - since < KEEP_ALIVE_REUSE:
                return connection
            connection.close()
        return None

    async def one(due: float, method: str, path: str, body: str, headers: dict) -> None:
        connection = reuse()
        try:
            if connection is None:
                connection = await asyncio.wait_for(_Connection.open(port), timeout)
            status = await asyncio.wait_for(connection.exchange(port, method, path, body, headers),
                                            timeout - (loop.time() - due))
        except (TimeoutError, asyncio.TimeoutError):
            tally.error("timeout")
            connection and connection.close()
            return
        except (OSError, h11.ProtocolError):
            tally.error("read")
            connection and connection.close()
            return
        tally.latencies.append(1000 * (loop.time() - due))
        if not 200 <= status < 400:
            tally.non_2xx += 1
        if connection.reusable():
            idle.append((connection, loop.time()))
        else:
            connection.close()

    started = loop.time()
    due, sent = started, 0
    while due < started + duration:
        await asyncio.sleep(max(0.0, due - loop.time()))
        task = asyncio.create_task(one(due, *requests[sent % len(requests)]))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        sent += 1
        due += rng.expovariate(rate)
    if in_flight:
        await asyncio.wait(in_flight)
    for connection, _ in idle:
        connection.close()
    return tally, sent, loop.time() - started


def paced(port: int, requests: list[tuple[str, str, str, dict]], *, rate: float, duration: float,
          timeout: float = 5.0, seed: int = 1) -> dict:
    """Send `requests` (method, path, body, headers), in turn, at `rate` a second on average
    for `duration` seconds; wrk's result keys, plus the rate offered."""
    tally, sent, seconds = asyncio.run(_run(port, requests, rate, duration, timeout, seed))
    latencies = sorted(tally.latencies) or [0.0]
    return {
        "requests": sent,
        "rps": len(tally.latencies) / seconds,
        "offered": sent / duration,
        "p50": statistics.median(latencies),
        "p99": latencies[math.ceil(0.99 * len(latencies)) - 1],  # nearest rank
        "non_2xx": tally.non_2xx,
        "socket_errors": tally.socket_errors,
    }
