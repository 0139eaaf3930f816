"""Drives a node with the official PyOTA 2.1.0 client, for the node interop tests (run with the oracle venv).

    echo '{"url": "http://127.0.0.1:PORT", "seed": "...", "mwm": 9, "steps": [...]}' | \
        .oracle/pyota/bin/python tests/oracle/pyota_node.py

Each step is an object with "op"; the answer is {"results": [one object per step]}. A step that raises reports
{"error_type": class name, "message": str}, so refusals can be checked (PyOTA raises BadApiResponse for the node's
400/500 answers). Ops:
  node_info                                     -> the getNodeInfo dict
  send_data {address, tag, message}             -> {"tail", "hashes"}   (send_transfer without inputs)
  send_value {to, value, input, key_index, balance, change}  -> {"tail", "hashes"}  (explicit input and change)
  forged {to, value, input, key_index, balance, change}      -> send_trytes of a bundle with a broken signature
  double_spend {...same as send_value}          -> send_value again from an input already spent
  store {trytes}                                -> broadcast_and_store of given trytes
  find {addresses}                              -> {"hashes"}
  balances {addresses}                          -> {"balances"}
  inclusion {transactions, tips}                -> {"states"}
"""
import json
import sys

from iota import Address, Iota, ProposedTransaction, Tag, Transaction, TryteString


def _value_transfer(api, step, mwm, send=True):
    inputs = [Address(step["input"], balance=step["balance"], key_index=step["key_index"], security_level=2)]
    transfers = [ProposedTransaction(address=Address(step["to"]), value=step["value"], tag=Tag(b"PYOTA"))]
    if send:
        r = api.send_transfer(transfers=transfers, inputs=inputs, change_address=Address(step["change"]),
                              depth=3, min_weight_magnitude=mwm)
        return _bundle_result(r["bundle"])
    return api.prepare_transfer(transfers=transfers, inputs=inputs, change_address=Address(step["change"]))["trytes"]


def _bundle_result(bundle):
    return {"tail": str(bundle.tail_transaction.hash), "hashes": [str(tx.hash) for tx in bundle]}


def run(api, step, mwm):
    op = step["op"]
    if op == "node_info":
        info = api.get_node_info()
        return {k: (str(v) if isinstance(v, TryteString) else v) for k, v in info.items()}
    if op == "send_data":
        tx = ProposedTransaction(address=Address(step["address"]), value=0, tag=Tag(step["tag"]),
                                 message=TryteString.from_unicode(step["message"]))
        return _bundle_result(api.send_transfer(transfers=[tx], depth=3, min_weight_magnitude=mwm)["bundle"])
    if op in ("send_value", "double_spend"):
        return _value_transfer(api, step, mwm)
    if op == "forged":
        trytes = _value_transfer(api, step, mwm, send=False)
        txs = [Transaction.from_tryte_string(t) for t in trytes]
        for tx in txs:
            if tx.value < 0:
                fragment = str(tx.signature_message_fragment)
                tx.signature_message_fragment = TryteString(("A" if fragment[0] != "A" else "B") + fragment[1:])
        api.send_trytes(trytes=[tx.as_tryte_string() for tx in txs], depth=3, min_weight_magnitude=mwm)
        return {}
    if op == "store":
        api.broadcast_and_store(trytes=[TryteString(t) for t in step["trytes"]])
        return {}
    if op == "find":
        return {"hashes": [str(h) for h in api.find_transactions(addresses=[Address(a) for a in step["addresses"]])
                           ["hashes"]]}
    if op == "balances":
        return {"balances": api.get_balances(addresses=[Address(a) for a in step["addresses"]])["balances"]}
    if op == "inclusion":
        r = api.get_inclusion_states(transactions=step["transactions"], tips=step["tips"])
        return {"states": r["states"]}
    raise ValueError("unknown op %r" % op)


def main():
    req = json.load(sys.stdin)
    api = Iota(req["url"], seed=req["seed"])
    results = []
    for step in req["steps"]:
        try:
            results.append(run(api, step, req["mwm"]))
        except Exception as e:  # reported to the test, which decides what was expected
            results.append({"error_type": type(e).__name__, "message": str(e)})
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
