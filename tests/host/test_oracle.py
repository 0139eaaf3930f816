"""Cross-checks with the official PyOTA 2.1.0, run live: our bundles pass PyOTA's validator, PyOTA's bundles pass
ours and are the very bundles we build from the same transfers, and addresses agree on fresh random seeds.

The oracle lives in its own venv (tests/oracle/pyota-venv.sh); tests/oracle/pyota_check.py answers over JSON.
"""
import json
import os
import random
import subprocess

import pytest

from iota_edge.bundle import prepare_transfer, validate_bundle
from iota_edge.errors import InvalidBundle
from iota_edge.signing import generate_address
from iota_edge.trinary import ALPHABET

pytestmark = pytest.mark.oracle
RNG_SEED = int(os.environ.get("IOTA_EDGE_TEST_SEED", "20261122"))


def ask(pyota_python, root, **req):
    out = subprocess.run([pyota_python, os.path.join(root, "tests/oracle/pyota_check.py")],
                         input=json.dumps(req), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def rand_trytes(rng, n):
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def rand_address(rng):
    """80 random trytes and a last one whose top trit is 0, as every Kerl address has (IRI checks it)."""
    return rand_trytes(rng, 80) + rng.choice("9ABCDWXYZ")


def random_request(rng, kind, security):
    transfers = []
    for _ in range(rng.randint(1, 3)):
        message = bytes(rng.randrange(256) for _ in range(rng.choice((0, 5, 400, 1094, 3000))))
        transfers.append({"address": rand_address(rng), "value": rng.randint(1, 50) if kind == "value" else 0,
                          "tag": rand_trytes(rng, rng.randint(0, 27)), "message_hex": message.hex()})
    inputs = []
    if kind == "value":
        need = sum(t["value"] for t in transfers)
        inputs = [{"key_index": rng.randint(0, 50), "balance": need + rng.randint(0, 20), "security": security}]
    return {"seed": rand_trytes(rng, 81), "security": security, "transfers": transfers, "inputs": inputs,
            "remainder_address": rand_address(rng), "timestamp": rng.randint(1500000000, 1800000000)}


def ours(req):
    transfers = [{"address": t["address"], "value": t["value"], "tag": t["tag"],
                  "message": bytes.fromhex(t["message_hex"])} for t in req["transfers"]]
    return prepare_transfer(req["seed"], transfers, req["inputs"], req["remainder_address"],
                            security=req["security"], timestamp=req["timestamp"])


@pytest.mark.parametrize("kind,security", [("data", 2), ("value", 1), ("value", 2), ("value", 3)])
def test_our_bundles_pass_pyota_and_equal_pyotas(pyota_python, root, kind, security):
    rng = random.Random(RNG_SEED + security + (100 if kind == "value" else 0))
    req = random_request(rng, kind, security)
    mine = ours(req)
    verdict = ask(pyota_python, root, command="validate", trytes=mine)
    assert verdict["valid"], verdict["errors"]
    theirs = ask(pyota_python, root, command="bundle", **req)["trytes"]
    validate_bundle(theirs)
    assert mine == theirs


def test_pyota_flags_what_we_flag(pyota_python, root):
    """A signature fragment replaced by garbage: both validators refuse it."""
    rng = random.Random(RNG_SEED)
    req = random_request(rng, "value", 1)
    bad = ours(req)
    input_index = len(bad) - 2  # inputs come before the remainder
    bad[input_index] = "A" * 2187 + bad[input_index][2187:]
    assert not ask(pyota_python, root, command="validate", trytes=bad)["valid"]
    with pytest.raises(InvalidBundle) as e:
        validate_bundle(bad)
    assert e.value.rule == "signature"


def test_addresses_on_fresh_random_seeds(pyota_python, root):
    rng = random.Random(RNG_SEED + 7)
    for security in (1, 2, 3):
        seed = rand_trytes(rng, 81)
        index = rng.randint(0, 10**7)
        expected = ask(pyota_python, root, command="address", seed=seed, index=index, security=security)["address"]
        assert generate_address(seed, index, security) == expected
