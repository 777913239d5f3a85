"""The visitor's address behind trusted proxies (config/middleware.py): X-Forwarded-For is
read only from a configured proxy, right to left, up to the first hop that is not one."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from billion_songs.web.config.middleware import forwarded_client, trusted_networks

PROXIES = trusted_networks(["10.0.0.0/8", "fd00::/8", "192.0.2.1"])


@pytest.mark.parametrize("peer, forwarded_for, client", [
    ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not from a proxy: the header means nothing
    ("10.0.0.2", "198.51.100.7", "198.51.100.7"),  # one proxy
    ("10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the visitor's own prefix is ignored
    ("10.0.0.2", "198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two proxies
    ("10.0.0.2", "198.51.100.7:5123, [fd00::3]:443", "198.51.100.7"),  # with ports
    ("10.0.0.2", "bogus, 10.0.0.3", "10.0.0.3"),  # not an address: the last trusted hop
    ("10.0.0.2", "", "10.0.0.2"),
    ("::ffff:10.0.0.2", "2001:db8::5", "2001:db8::5"),  # a dual-stack socket's mapped IPv4 peer
    ("192.0.2.1", "10.0.0.3, 10.0.0.4", "10.0.0.3"),  # every hop trusted: the left-most
])
def test_forwarded_client(peer, forwarded_for, client):
    assert forwarded_client(peer, forwarded_for, PROXIES) == client


def test_a_bad_proxy_list_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        trusted_networks(["10.0.0.0/8", "proxy.internal"])
