"""A visitor as a real HTTP client: one open request, from a loopback address of its own
(127.0.0.N: the kernel answers for the whole 127/8) or naming one in X-Forwarded-For,
which reads the status and headers and then waits, connection open, until it reads the
rest or leaves (closes the connection). For the admission-control tests and bench."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit


class Visitor:
    def __init__(self, server, path: str, *, address: str = "127.0.0.1", forwarded_for: str | None = None,
                 method: str = "GET", timeout: float = 30):
        parts = urlsplit(str(server))
        self.path = path
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout,
                                                     source_address=(address, 0))
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        self.connection.request(method, path, headers=headers)
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = {name.lower(): value for name, value in self.response.getheaders()}

    def read(self) -> bytes:
        """The rest of the body (waits until the server ends it), then closes."""
        try:
            return self.response.read()
        finally:
            self.leave()

    def leave(self) -> None:
        self.connection.close()


def visit(server, path: str, **options) -> tuple[int, dict, bytes]:
    visitor = Visitor(server, path, **options)
    return visitor.status, visitor.headers, visitor.read()
