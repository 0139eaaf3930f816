"""A real mosquitto for tests (simulators/broker/mosquitto.py) with the test accounts and the device ACL.

    b = make_broker(tls=True, users={"meter-7": "pw7"})   # gateway/gwpass, dev1/devpass, dev2/dev2pass always exist
    b.port, b.tls_port, b.dir + "/ca.crt"

``make_broker`` is a fixture of tests/host/conftest.py. The ACL lets the gateway user read and write ``iota-edge/#``
and each device only write ``iota-edge/<user>/up`` and ``iota-edge/<user>/hb`` and read ``iota-edge/<user>/ack``
(``acl=`` replaces it). Needs apt mosquitto, mosquitto-clients and openssl; under CI=true a missing tool fails the
test instead of skipping it.
"""
import os

import pytest

from simulators.broker import mosquitto

GW_USER, GW_PASS = "gateway", "gwpass"
DEV, DEV_PASS = "dev1", "devpass"
DEFAULT_ACL = mosquitto.DEFAULT_ACL % GW_USER


def _need(what, how):
    if os.environ.get("CI") == "true":
        pytest.fail("%s is required in CI: %s" % (what, how))
    pytest.skip("%s not installed (%s)" % (what, how))


def _tool(name):
    path = mosquitto.find_tool(name)
    if not path:
        _need(name, "apt-get install -y mosquitto mosquitto-clients")
    return path


_free_port = mosquitto.free_port


class Broker(mosquitto.Mosquitto):
    """Mosquitto with the test accounts and DEFAULT_ACL unless ``acl=`` is given."""

    def __init__(self, directory, users=None, acl=None, **kw):
        accounts = {DEV: DEV_PASS, "dev2": "dev2pass", GW_USER: GW_PASS}
        accounts.update(users or {})
        super().__init__(directory, users=accounts, acl=DEFAULT_ACL if acl is None else acl, **kw)


@pytest.fixture
def make_broker(tmp_path):
    """Start brokers (each in its own folder under tmp_path); all are stopped after the test."""
    _tool("mosquitto")
    _tool("mosquitto_pub")
    brokers = []

    def make(**kw):
        b = Broker(tmp_path / ("broker%d" % len(brokers)), **kw).start()
        brokers.append(b)
        return b
    yield make
    for b in brokers:
        b.stop()
