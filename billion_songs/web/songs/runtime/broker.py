"""The Redis broker transport, made to survive a broker outage (settings/base.py selects it
for redis:// broker URLs).

kombu's Redis transport (5.7) crashes the worker when the broker goes away while a task
runs. On a lost connection the consumer detaches the connection's transport and starts a
new one, but the old channel still has work to do through it: put the running tasks
(unacknowledged: acks_late) back on their queue when it closes, acknowledge or reject
them when they end. Each needs a Redis client built from the detached transport's
settings, which are gone: `AttributeError("'NoneType' object has no attribute
'hostname'")` (or `... 'client'`), which Celery takes for an "Unrecoverable error" and
stops.

Here that case is a connection error, which Celery and kombu already handle (a failed
acknowledgement is logged), and the restore at close is skipped with a warning. Nothing
is lost: the tasks stay in Redis's unacknowledged index, and a worker puts them back on
their queue once they are older than the visibility timeout, as for a worker that was
killed. Both tasks are idempotent (tasks.py), so one run twice writes nothing twice.
"""

from __future__ import annotations

import logging

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client=None):
        try:
            return super().restore_unacked(client)
        except kombu_redis.Transport.connection_errors as error:
            # The channel still closes (and the consumer reconnects) rather than stop here.
            log.warning("Broker unreachable (%s): %d running task(s) go back to the queue after the "
                        "visibility timeout", error, len(self._delivered))
            return None


class Channel(kombu_redis.Channel):
    QoS = QoS

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("this broker connection was closed after the broker went away")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
