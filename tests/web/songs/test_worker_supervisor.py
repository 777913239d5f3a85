"""`billion-songs worker` keeps its Celery consumer running: one that ends by itself is
started again with back-off; a stop asked for (a signal) or a configuration error ends
the command."""

from __future__ import annotations

import subprocess

import click
import pytest
from celery import signals
from django.core.exceptions import ImproperlyConfigured

from billion_songs.web.config.celery import app
from billion_songs.web.songs.runtime import supervisor
from tests.support.processes import cli, site_environment


class Consumers:
    """Consumer lives that end by themselves with `codes`, then one that is stopped."""

    def __init__(self, *codes: int, stopped_with: int = 0):
        self.codes = list(codes)
        self.stopped_with = stopped_with
        self.started = 0
        self.stop_asked = False

    def start(self) -> int:
        self.started += 1
        if self.codes:
            return self.codes.pop(0)
        self.stop_asked = True
        return self.stopped_with


def test_a_consumer_that_ends_by_itself_is_started_again_with_back_off():
    consumers, waits = Consumers(1, 1, 1, 1, 1, 1, 1), []
    code = supervisor.supervise(consumers.start, stopping=lambda: consumers.stop_asked, sleep=waits.append,
                                backoff=supervisor.Backoff(first=1, longest=30))
    assert code == 0 and consumers.started == 8
    assert waits == [1, 2, 4, 8, 16, 30, 30]


def test_a_stop_asked_for_ends_it_with_the_consumers_exit_code():
    consumers, waits = Consumers(stopped_with=1), []  # a cold shutdown exits 1
    assert supervisor.supervise(consumers.start, stopping=lambda: consumers.stop_asked, sleep=waits.append) == 1
    assert consumers.started == 1 and waits == []


def test_a_configuration_error_is_not_retried():
    def start() -> int:
        raise ImproperlyConfigured("no such queue")

    with pytest.raises(ImproperlyConfigured):
        supervisor.supervise(start, stopping=lambda: False, sleep=lambda _: None)


def test_celerys_shutdown_signal_is_a_stop_request():
    stopping = supervisor.StopRequests()
    assert not stopping()
    signals.worker_shutting_down.send(sender="songs-1@test", sig="SIGTERM", how="Warm", exitcode=0)
    assert stopping()
    stopping.wait(60)  # returns at once


def test_an_unknown_broker_is_a_configuration_error():
    broker_url, app.conf.broker_url = app.conf.broker_url, "nosuch://127.0.0.1:1/0"
    try:
        with pytest.raises(click.UsageError, match="nosuch"):
            supervisor.check_broker()
    finally:
        app.conf.broker_url = broker_url


@pytest.mark.slow
def test_the_command_exits_non_zero_on_a_configuration_error(tmp_path):
    env = site_environment(REDIS_URL="redis://127.0.0.1:1/0", CELERY_BROKER_URL="nosuch://127.0.0.1:1/0",
                           BILLION_SONGS_DATA_DIR=str(tmp_path),
                           BILLION_SONGS_GENERATOR_FACTORY="billion_songs.web.songs.generation.fake_generator")
    result = subprocess.run(cli("worker"), env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "cannot use the broker" in result.stderr and "nosuch" in result.stderr
