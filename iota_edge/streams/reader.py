"""Read a MAM v0 channel through a node: follow the chain of roots, verify and decrypt every message found.

    >>> from iota_edge.streams import read_channel
    >>> results = read_channel(client, root, mode="restricted", side_key="SECRET")
    >>> [r.message for r in results if r.ok]          # message trytes, in chain order
    >>> [(r.bundle, r.error.reason) for r in results if not r.ok]
    >>> results[-1].next_root if results else root     # where to resume (see next_root_of)

``client`` needs two methods (iota_edge.client.NodeClient has them): ``find_transactions(addresses=[...])`` returning
transaction hashes and ``get_trytes(hashes)`` returning their trytes in the same order. For each root the reader
finds the transactions at the root's address, groups them by bundle, rebuilds each bundle from its tail along the
trunk links (so reattachments and foreign transactions with a copied bundle hash do not mix), joins the
signatureMessageFragments in current_index order and parses them. Valid messages of one tree come out in leaf order;
then the walk moves to their next root. It stops at a root with no valid message, at a root seen before, or after
``limit`` valid messages.
"""

from iota_edge.errors import InvalidMessage, IotaEdgeError
from iota_edge.streams.channel import channel_address, check_mode_key
from iota_edge.streams.parser import parse_payload
from iota_edge.trinary import check_trytes


class ReadResult:
    """One bundle found on a channel. ``ok`` results carry ``message`` (trytes), ``next_root``, ``index``;
    failed ones carry ``error`` (an InvalidMessage whose ``reason`` says why) and ``message`` None."""

    def __init__(self, root, address, bundle, tail, message=None, next_root=None, index=None, error=None):
        self.root = root
        self.address = address
        self.bundle = bundle
        self.tail = tail  # hash of the tail transaction
        self.message = message
        self.next_root = next_root
        self.index = index
        self.error = error

    @property
    def ok(self):
        return self.error is None

    def data(self):
        """The message as bytes (trytes_to_bytes of the message; InvalidTrytes if it is not a byte encoding)."""
        from iota_edge.trinary import trytes_to_bytes

        return trytes_to_bytes(self.message, "message")

    def __repr__(self):
        if self.error is None:
            return "ReadResult(index=%d, %d message trytes)" % (self.index, len(self.message))
        return "ReadResult(error=%s: %s)" % (self.error.reason, self.error)


def next_root_of(results, root):
    """The root a later read resumes from: the next root of the last valid message, else ``root``."""
    for r in reversed(results):
        if r.ok:
            return r.next_root
    return root


def _bundles(hashes, trytes_list):
    """Candidate bundles at one address as (bundle, tail hash, transactions tail first), and failures as
    (bundle, tail hash, InvalidMessage)."""
    from iota_edge.transaction import Transaction

    by_hash = {}  # hash -> transaction
    groups = {}  # bundle -> [(hash, transaction)]
    bad = []
    for h, t in zip(hashes, trytes_list):
        try:
            tx = Transaction.from_trytes(t)
        except IotaEdgeError as e:
            bad.append((None, h, InvalidMessage("transaction %s does not decode: %s" % (h, e), "bundle")))
            continue
        by_hash[h] = tx
        groups.setdefault(tx.bundle, []).append((h, tx))
    out = []
    for bundle, members in groups.items():
        tails = [(h, tx) for h, tx in members if tx.current_index == 0]
        found = False
        for h, tail in tails:
            chain = [tail]
            cur = tail
            while cur.current_index < cur.last_index:
                nxt = by_hash.get(cur.trunk)
                if nxt is None or nxt.bundle != bundle or nxt.current_index != cur.current_index + 1:
                    break
                chain.append(nxt)
                cur = nxt
            if cur.current_index == cur.last_index == tail.last_index:
                out.append((bundle, h, chain))
                found = True
        if found:
            continue
        # Unattached copies (trunks all 9s), as tools and tests make: accepted when every index is there once.
        members.sort(key=lambda m: m[1].current_index)
        txs = [tx for _, tx in members]
        last = txs[0].last_index
        if [tx.current_index for tx in txs] == list(range(last + 1)) and all(tx.last_index == last for tx in txs):
            out.append((bundle, members[0][0], txs))
        else:
            tail = tails[0][0] if tails else None
            bad.append((bundle, tail, InvalidMessage("bundle %s is incomplete or ambiguous (%d transactions)"
                                                     % (bundle, len(txs)), "bundle")))
    return out, bad


def read_channel(client, root, mode="public", side_key=None, limit=None):
    """Walk a channel from ``root``; return a list of ReadResult (valid ones in chain order, each root's failures
    after its valid messages)."""
    root = check_trytes(root, "root", length=81)
    key = check_mode_key(mode, side_key)
    results = []
    seen = set()
    valid = 0
    while root not in seen and (limit is None or valid < limit):
        seen.add(root)
        address = channel_address(root, mode)
        hashes = list(client.find_transactions(addresses=[address]))
        if not hashes:
            break
        bundles, bad = _bundles(hashes, client.get_trytes(hashes))
        good = []
        failed = []
        payloads = set()
        for bundle, tail, txs in bundles:
            payload = "".join([tx.signature_message_fragment for tx in txs if tx.address == address])
            if payload in payloads:
                continue  # a reattachment of a message already read
            payloads.add(payload)
            try:
                m = parse_payload(payload, root, key)
            except InvalidMessage as e:
                failed.append(ReadResult(root, address, bundle, tail, error=e))
                continue
            good.append(ReadResult(root, address, bundle, tail, m.message, m.next_root, m.index))
        good.sort(key=lambda r: r.index)
        if limit is not None:
            good = good[: limit - valid]
        valid += len(good)
        results.extend(good)
        results.extend(failed)
        for b, t, e in bad:
            results.append(ReadResult(root, address, b, t, error=e))
        if not good:
            break
        root = good[-1].next_root
    return results
