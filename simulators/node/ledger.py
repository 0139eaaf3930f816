"""Balances, double spends and spent addresses over the genesis snapshot and the accepted value bundles.

    record_bundle(store, chain)                   # Refused on a double spend or an overdraft; idempotent per bundle
    balances(store, ["ADDR..."], tip_cone=None)   # confirmed balances, plus what ``tip_cone``'s bundles move

A value bundle's balance changes are counted once per bundle hash (a reattachment moves nothing new). The ledger a new
spend is checked against is confirmed + pending: the snapshot plus every accepted bundle, confirmed or not, so two
bundles spending one address can never both be accepted. The caller holds the node's lock and a write transaction.
"""

from simulators.node.errors import Refused
from simulators.node.validation import bundle_deltas


def record_bundle(store, chain):
    """Check a complete, valid bundle against the ledger and record its balance changes."""
    bundle = chain[0].bundle
    deltas, spends = bundle_deltas(chain)
    if not deltas and not spends:
        return
    if store.bundle_accepted(bundle):
        return  # a reattachment of a bundle already in the ledger
    for address in sorted(spends):
        other = store.spent_by(address)
        if other is not None and other != bundle:
            raise Refused("Invalid trytes input: bundle %s: double spend: address %s was already spent from by "
                          "bundle %s" % (bundle, address, other))
    debits = sorted(a for a, d in deltas.items() if d < 0)
    if debits:
        snapshot = store.snapshot_balances(debits)
        moved = store.ledger_sums(debits, confirmed_only=False)
        for address in debits:
            available = snapshot.get(address, 0) + moved.get(address, 0)
            if available + deltas[address] < 0:
                raise Refused("Invalid trytes input: bundle %s: address %s spends %d but holds %d (confirmed + "
                              "pending)" % (bundle, address, -deltas[address], available))
    store.accept_bundle(bundle, deltas, spends)


def balances(store, addresses, tip_cone=None):
    """Confirmed balance of each address; with ``tip_cone`` (bundle hashes approved by given tips) the unconfirmed
    bundles among them count too, as IRI's getBalances with ``tips`` does."""
    snapshot = store.snapshot_balances(addresses)
    moved = store.ledger_sums(addresses, confirmed_only=True)
    out = {a: snapshot.get(a, 0) + moved.get(a, 0) for a in addresses}
    if tip_cone:
        wanted = set(addresses)
        for bundle, address, delta in store.unconfirmed_deltas(sorted(tip_cone)):
            if address in wanted:
                out[address] += delta
    return [out[a] for a in addresses]
