"""The site's commands as subprocesses, the way a user or an operator runs them:
`billion-songs serve` (`Served`: on a free port, answering HTTP) and `billion-songs worker`."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.waiting import free_port, wait_for

# The model-free generator: what the web tests and `--fake` benchmarks run.
FAKE_GENERATOR = "billion_songs.web.songs.generation.fake_generator"


def cli(*arguments: str) -> list[str]:
    """The command line of `billion-songs ARGUMENTS` with this interpreter."""
    return [sys.executable, "-c", "from billion_songs.cli import main; main()", *arguments]


def site_environment(**settings: str) -> dict:
    """This process's environment plus `settings`, without DJANGO_SETTINGS_MODULE: the
    commands choose their production settings, as for a user."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **settings}
    if "DJANGO_SETTINGS_MODULE" not in settings:
        env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


class Process:
    """A subprocess in its own session (so that its children stop with it), its output in
    a log file."""

    def __init__(self, name: str, command: list[str], env: dict, log_path: Path, cwd: Path | None = None):
        self.name = name
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "".join(self.output().splitlines(keepends=True)[-lines:])

    def wait_for_output(self, marker: str, *, timeout: float = 60) -> str:
        """The first output line containing `marker`, once it is written."""
        def line() -> str | None:
            return next((line for line in self.output().splitlines() if marker in line), None)

        return wait_for(line, timeout=timeout, what=f"{self.name} to print {marker!r}", processes=[self])

    def kill9(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Send `sig` to its process group; after `timeout`, kill the group."""
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
            except ProcessLookupError:  # it ended meanwhile
                self.popen.wait(10)
        self._log.close()


def request(port: int, method: str, path: str, *, body: str | bytes | None = None, headers: dict | None = None,
            timeout: float = 60) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request, read to its end;
    redirects are not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class Served:
    """`billion-songs serve` on a free port."""

    def __init__(self, process: Process, port: int):
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, env: dict, log_path: Path, *arguments: str, cwd: Path | None = None) -> Served:
        """Start it (`arguments` go after `serve --port N`); it is not answering yet."""
        port = free_port()
        process = Process(f"serve-{port}", cli("serve", "--port", str(port), *arguments), env, log_path, cwd)
        return cls(process, port)

    def request(self, method: str, path: str, **options) -> tuple[int, dict, bytes]:
        return request(self.port, method, path, **options)

    def get(self, path: str, **options) -> tuple[int, dict, bytes]:
        return self.request("GET", path, **options)

    def healthy(self) -> bool:
        try:
            return self.get("/healthz", timeout=5)[0] == 200
        except OSError:
            return False

    def wait_until_healthy(self, timeout: float = 120) -> Served:
        wait_for(self.healthy, timeout=timeout, what=f"{self.process.name} to answer /healthz",
                 processes=[self.process], interval=0.2)
        return self

    def stop(self, timeout: float = 20) -> None:
        self.process.stop(signal.SIGINT, timeout)  # Ctrl-C


def start_worker(env: dict, log_path: Path, *arguments: str, name: str = "worker", timeout: float = 90) -> Process:
    """`billion-songs worker ARGUMENTS`, once Celery says it is ready."""
    process = Process(name, cli("worker", *arguments), env, log_path)
    process.wait_for_output(" ready.", timeout=timeout)
    return process
