"""Answers questions with the official PyOTA 2.1.0, for the cross-check tests (run with the oracle venv's python).

    echo '{"command": "validate", "trytes": [...]}' | .oracle/pyota/bin/python tests/oracle/pyota_check.py

Commands (one JSON object on stdin, one on stdout):
  validate  {"trytes": [2673, ...]}                        -> {"valid": bool, "errors": [str]}
  bundle    {"seed", "security", "transfers": [{"address","value","tag","message_hex"}], "inputs":
             [{"key_index","balance","security"}], "remainder_address", "timestamp"} -> {"trytes": [...tail first]}
  address   {"seed", "index", "security"}                  -> {"address": 81 trytes}
"""
import json
import sys

from iota import Address, Bundle, Tag, TryteString
from iota.crypto.addresses import AddressGenerator
from iota.crypto.signing import KeyGenerator
from iota.crypto.types import Seed
from iota.transaction.creation import ProposedBundle, ProposedTransaction
from iota.transaction.validator import BundleValidator


def validate(req):
    bundle = Bundle.from_tryte_strings([TryteString(t) for t in req["trytes"]])
    validator = BundleValidator(bundle)
    valid = validator.is_valid()
    return {"valid": bool(valid), "errors": [str(e) for e in validator.errors]}


def make_bundle(req):
    # PyOTA stamps the change transaction with the current time inside finalize(); pin its clock to the request's.
    import iota.transaction.creation as creation

    creation.get_current_timestamp = lambda: req["timestamp"]
    pb = ProposedBundle()
    for t in req["transfers"]:
        tx = ProposedTransaction(
            address=Address(t["address"]),
            value=t["value"],
            tag=Tag(t["tag"]),
            message=TryteString.from_bytes(bytes.fromhex(t["message_hex"])),
            timestamp=req["timestamp"],
        )
        pb.add_transaction(tx)
    if req["inputs"]:
        seed = Seed(req["seed"])
        addresses = []
        for i in req["inputs"]:
            gen = AddressGenerator(seed, security_level=i["security"])
            a = gen.get_addresses(i["key_index"], 1)[0]
            a.balance = i["balance"]
            a.key_index = i["key_index"]
            a.security_level = i["security"]
            addresses.append(a)
        pb.add_inputs(addresses)
        if req.get("remainder_address"):
            pb.send_unspent_inputs_to(Address(req["remainder_address"]))
    for tx in pb:
        tx.timestamp = req["timestamp"]
    pb.finalize()
    if req["inputs"]:
        pb.sign_inputs(KeyGenerator(Seed(req["seed"])))
    return {"trytes": [str(tx.as_tryte_string()) for tx in sorted(pb, key=lambda tx: tx.current_index)]}


def address(req):
    gen = AddressGenerator(Seed(req["seed"]), security_level=req["security"], checksum=False)
    return {"address": str(gen.get_addresses(req["index"], 1)[0])}


def main():
    req = json.load(sys.stdin)
    handler = {"validate": validate, "bundle": make_bundle, "address": address}[req["command"]]
    json.dump(handler(req), sys.stdout)


if __name__ == "__main__":
    main()
