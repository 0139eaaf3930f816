"""Helpers of the node tests: attaching bundles, addresses, a node in a subprocess."""
import functools
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from iota_edge.bundle import prepare_transfer  # noqa: E402
from iota_edge.pow import attach_to_tangle  # noqa: E402
from iota_edge.transaction import Transaction  # noqa: E402
from iota_edge.trinary import int_to_trytes  # noqa: E402

NULL_HASH = "9" * 81


def have_native_pow():
    from iota_edge import _native

    return _native.AVAILABLE


def attach(trytes_list, trunk, branch, mwm, **kw):
    """iota_edge.pow.attach_to_tangle (the C kernel, or its pure search under IOTA_EDGE_PURE=1 for tiny MWM)."""
    return attach_to_tangle(list(trytes_list), trunk, branch, mwm, **kw)


def data_bundle(address, message=b"hello", tag="NODETEST", timestamp=None):
    return prepare_transfer(None, [{"address": address, "message": message, "tag": tag}], timestamp=timestamp)


def address_of(i):
    """A distinct valid 81-tryte address per int (trit 242 zero: last tryte in 9..M range is enough here)."""
    return ("ADDR" + int_to_trytes(i, 10)).ljust(80, "9") + "9"


@functools.lru_cache(maxsize=None)
def hash_of(trytes):
    return Transaction.from_trytes(trytes).hash


def start_node_process(db, mwm, extra=(), env=None):
    """``python -m simulators.node`` on an ephemeral port; returns (process, url) once it listens."""
    cmd = [sys.executable, "-m", "simulators.node", "--port", "0", "--db", str(db), "--mwm", str(mwm),
           "--milestone-interval", "0"] + list(extra)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    line = p.stdout.readline()
    if "listening on " not in line:
        p.kill()
        raise RuntimeError("node did not start: %r %s" % (line, p.stderr.read()))
    return p, line.strip().split("listening on ")[1]


SEED = "NODETESTSEED9" + "9" * 68  # test-only seed: its index 0 and 1 addresses hold the genesis balances
_CACHE = {}


def genesis(index=0):
    """Address of SEED at ``index``, security 2 (cached: pure-Python address generation takes a while)."""
    if index not in _CACHE:
        from iota_edge.signing import generate_address

        _CACHE[index] = generate_address(SEED, index, 2)
    return _CACHE[index]


def value_bundle(to, value, balance=1000, key_index=0, remainder=None, timestamp=None):
    """A signed bundle spending ``balance`` from genesis(key_index): ``value`` to ``to``, the rest to remainder."""
    return prepare_transfer(SEED, [{"address": to, "value": value, "tag": "PAY"}],
                            inputs=[{"key_index": key_index, "balance": balance}],
                            remainder_address=remainder or address_of(9999), timestamp=timestamp)
