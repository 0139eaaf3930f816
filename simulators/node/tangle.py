"""The node's tangle: storeTransactions with bundle completion and validation, the queries, confirmation.

    tangle = Tangle(Store("node.db"), mwm=9)
    tangle.store_transactions(trytes_list, now_ms)     # Refused: nothing of the call is kept
    tangle.find_transactions(addresses=["ADDR..."])
    tangle.add_milestone(trytes, index)                 # confirms everything the milestone approves

A transaction arrives in ``pending``. When the transactions of a bundle are all there (its tail's trunk chain reaches
``last_index``), the bundle is checked (validation.check_bundle, the attachment rules, the ledger) and moved into the
visible tangle in the same SQLite transaction as the storeTransactions call that completed it. Every method takes the
node's lock; the costly per-transaction work (decode, Curl hash, a bundle's signatures) runs before the lock.
"""

import collections
import threading

from iota_edge.curl import curl_hash
from iota_edge.transaction import Transaction

from simulators.node import ledger
from simulators.node.errors import Refused
from simulators.node.validation import NULL_HASH, Parsed, check_bundle, parse_transaction

NULL_TRYTES = "9" * 2673
MAX_DEPTH = 15  # IRI --max-depth default
MAX_FIND = 100000  # IRI --max-find-transactions default
RECENT = 1024  # transactions stored last whose parse is kept: broadcastTransactions after storeTransactions


def _unique(items):
    return list(dict.fromkeys(items))


def _walk(tail, lookup):
    """The tail's trunk chain through ``lookup`` (hash -> Parsed), or None while incomplete."""
    chain = [tail]
    while len(chain) <= tail.last_index:
        nxt = lookup(chain[-1].trunk)
        if nxt is None or nxt.bundle != tail.bundle:
            return None
        chain.append(nxt)
    return chain


def _prevalidate(parsed, recent=()):
    """Check, outside the node's lock, every bundle that this call carries whole; returns their hash tuples.
    Tails in ``recent`` (stored before) are not checked again."""
    by_hash = {p.hash: p for p in parsed}
    checked = set()
    for p in parsed:
        if p.current_index == 0 and p.trytes not in recent:
            chain = _walk(p, by_hash.get)
            if chain is not None:
                check_bundle(chain)
                checked.add(tuple(tx.hash for tx in chain))
    return checked


class Tangle:
    """Storage plus the rules; ``mwm`` is the node's minimum weight magnitude, ``snapshot_time`` in seconds."""

    def __init__(self, store, mwm, snapshot_time=0):
        self.store = store
        self.mwm = mwm
        self.snapshot_time = snapshot_time
        self.lock = threading.RLock()
        self._recent = collections.OrderedDict()  # trytes -> Parsed of the last RECENT transactions stored

    # --- storing ------------------------------------------------------------------------------------------------

    def store_transactions(self, trytes_list, now_ms):
        """Validate and store; returns how many transactions were new. Refused leaves the database untouched."""
        recent = self._recent
        parsed = [recent.get(t) or parse_transaction(t, self.mwm, now_ms, self.snapshot_time, i)
                  for i, t in enumerate(trytes_list)]
        checked = _prevalidate(parsed, recent)
        with self.lock, self.store.transaction():
            known = self.store.known([p.hash for p in parsed])
            fresh = {}
            for p in parsed:
                if p.hash not in known and p.hash not in fresh:
                    fresh[p.hash] = p
            for p in fresh.values():
                self.store.add_pending(p)
            self._complete(_unique(p.bundle for p in fresh.values()), fresh, checked)
        with self.lock:  # stored (pending or visible): a second store of the same trytes needs no Curl hash
            for p in parsed:
                recent[p.trytes] = p
                recent.move_to_end(p.trytes)
            while len(recent) > RECENT:
                recent.popitem(last=False)
        return len(fresh)

    def _complete(self, bundles, fresh, checked):
        """Accept every bundle among ``bundles`` that is now whole; bundles approving one another in the same call
        are taken in whatever order resolves them."""
        todo = bundles
        while todo:
            waiting = {}
            progress = False
            for bundle in todo:
                for chain, pending in self._chains(bundle, fresh):
                    missing = self._accept(chain, pending, checked)
                    if missing is None:
                        progress = True
                    else:
                        waiting[bundle] = missing
            if waiting and not progress:
                bundle, missing = sorted(waiting.items())[0]
                raise Refused("Invalid trytes input: bundle %s approves %s, which is not a transaction this node "
                              "holds" % (bundle, missing))
            todo = list(waiting)

    def _chains(self, bundle, fresh):
        """Complete chains of ``bundle`` that start at a pending tail, with the set of their pending hashes."""
        rows = self.store.pending_of_bundle(bundle)
        if not any(idx == 0 for _, idx, _ in rows):
            return []
        pending = {h: t for h, _, t in rows}
        visible = {h: t for h, _, t in self.store.visible_of_bundle(bundle)}
        cache = {}

        def lookup(h):
            if h not in cache:
                t = pending.get(h) or visible.get(h)
                cache[h] = None if t is None else (fresh.get(h) or Parsed(t, Transaction.from_trytes(t), h))
            return cache[h]

        out = []
        still_pending = set(pending)  # shared: two attachments may share transactions (accepted once)
        for h, idx, _ in rows:
            if idx == 0:
                chain = _walk(lookup(h), lookup)
                if chain is not None:
                    out.append((chain, still_pending))
        return out

    def _refs_root(self, trunk, branch):
        """Oldest milestone index that a head approving (trunk, branch) reaches; or ('missing', hash)."""
        root = None
        for ref in (trunk, branch):
            if ref == NULL_HASH:
                r = 0
            else:
                row = self.store.row(ref)
                if row is None:
                    return None, ref
                current_index, milestone, ref_root = row
                if current_index != 0:
                    raise Refused("Invalid trytes input: %s is approved by a bundle head but is not a tail" % ref)
                r = milestone if milestone is not None else ref_root
            root = r if root is None else min(root, r)
        return root, None

    def _accept(self, chain, pending, checked):
        """Check a complete chain and make it visible; returns None, or the hash it approves that is not here."""
        head = chain[-1]
        root, missing = self._refs_root(head.trunk, head.branch)
        if missing is not None:
            return missing
        if tuple(tx.hash for tx in chain) not in checked:
            check_bundle(chain)
        ledger.record_bundle(self.store, chain)
        for tx in reversed(chain):
            if tx.hash in pending:
                self.store.make_visible(tx, root)
                pending.discard(tx.hash)
        return None

    # --- milestones ---------------------------------------------------------------------------------------------

    def add_milestone(self, trytes, index):
        """Store a milestone the node's coordinator issued and confirm everything it approves."""
        h = curl_hash(trytes)
        tx = Parsed(trytes, Transaction.from_trytes(trytes), h)
        with self.lock, self.store.transaction():
            latest, _ = self.store.latest_milestone()
            if index != latest + 1:
                raise Refused("milestone %d: expected index %d" % (index, latest + 1))
            root, missing = self._refs_root(tx.trunk, tx.branch)
            if missing is not None:
                raise Refused("milestone %d approves unknown transaction %s" % (index, missing))
            self.store.make_visible(tx, root)
            self.store.add_milestone(index, h)
            self.store.confirm(self._unconfirmed_cone([h]), index)
        return h

    def _unconfirmed_cone(self, starts, bundles=None):
        """Hashes of the unconfirmed transactions that ``starts`` approve, directly or not (starts included)."""
        seen = set()
        stack = list(starts)
        while stack:
            h = stack.pop()
            if h in seen:
                continue
            row = self.store.parents(h)
            if row is None or row[2] is not None:
                continue
            seen.add(h)
            if bundles is not None:
                bundles.add(row[3])
            stack.append(row[0])
            stack.append(row[1])
        return seen

    def latest_milestone(self):
        with self.lock:
            return self.store.latest_milestone()

    # --- queries ------------------------------------------------------------------------------------------------

    def trytes(self, hashes):
        with self.lock:
            found = self.store.trytes(hashes)
        return [found.get(h, NULL_TRYTES) for h in hashes]

    def find_transactions(self, addresses=None, bundles=None, tags=None, approvees=None):
        """Hashes matching every given key (a union within each list), sorted; tags fall back to obsolete tags."""
        found = []
        with self.lock:
            if bundles is not None:
                found.append(self.store.find("bundle", bundles))
            if addresses is not None:
                found.append(self.store.find("address", addresses))
            if tags is not None:
                padded = [t + "9" * (27 - len(t)) for t in tags]
                found.append(self.store.find("tag", padded) or self.store.find("obsolete_tag", padded))
            if approvees is not None:
                found.append(self.store.find("trunk", approvees) | self.store.find("branch", approvees))
        result = set.intersection(*found) if found else set()
        if len(result) > MAX_FIND:
            raise Refused("Could not complete request")
        return sorted(result)

    def inclusion_states(self, hashes):
        with self.lock:
            found = self.store.confirmations(hashes)
        return [found.get(h) is not None for h in hashes]

    def balances(self, addresses, tips=None):
        """(balances, references, milestone index) as getBalances answers them."""
        with self.lock:
            index, milestone = self.store.latest_milestone()
            cone = None
            if tips:
                for t in tips:
                    if self.store.row(t) is None:
                        raise Refused("Tip not found: %s" % t)
                cone = set()
                self._unconfirmed_cone(tips, cone)
            values = ledger.balances(self.store, addresses, cone)
        return values, list(tips) if tips else [milestone or NULL_HASH], index

    def were_spent(self, addresses):
        with self.lock:
            spent = self.store.spent(addresses)
        return [a in spent for a in addresses]

    def check_consistency(self, tails):
        """(state, info) as checkConsistency answers; Refused for a missing transaction or one that is no tail."""
        with self.lock:
            latest, _ = self.store.latest_milestone()
            rows = []
            for t in tails:
                row = self.store.row(t)
                if row is None:
                    raise Refused("Invalid transaction, missing: %s" % t)
                if row[0] != 0:
                    raise Refused("Invalid transaction, not a tail: %s" % t)
                rows.append(row)
        for _, milestone, root in rows:
            if (milestone if milestone is not None else root) < latest - MAX_DEPTH:
                return False, "tails are not consistent (would lead to inconsistent ledger state or below max depth)"
        return True, ""

    def tips(self):
        with self.lock:
            return self.store.tips()

    def counts(self):
        """(tips, database size in bytes) for getNodeInfo."""
        with self.lock:
            return self.store.tip_count(), self.store.size_bytes()
