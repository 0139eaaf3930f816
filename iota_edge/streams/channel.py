"""A MAM v0 channel you publish on: state, one-time leaf bookkeeping and message creation (spec sections 9.1-9.3).

    >>> from iota_edge.streams import Channel, FileStore
    >>> ch = Channel(seed, mode="restricted", side_key="SECRET", count=4, store=FileStore("mam.json"))
    >>> m = ch.create_message(bytes_to_trytes(b"21.5 C"))    # the leaf is reserved and saved before signing
    >>> m.address, m.root, m.next_root, m.payload              # publish m.payload to m.address (m.bundle())
    >>> ch = Channel.from_state(FileStore("mam.json").load(), store=FileStore("mam.json"))   # after a reboot

Defaults follow mam.client.js 0.7.3 ``init``: security 2, start 0, count 1, next_count 1, index 0. Each message
is signed with Winternitz key ``start + index`` of the seed (Curl-P-27); a key must sign once only, so the channel
reserves the leaf and saves the advanced state to its store *before* it signs: a power cut at any point skips a
leaf, it never signs one twice. A skipped leaf is harmless when count > 1 (readers find the other messages of the
tree at the same address); with count 1 the lost message was the link to the next root, so keep created payloads in
an outbox until they are attached.

Tree sizes (count, next_count) must be powers of two (see mam.check_count). When a tree is used up the channel moves
to the announced next tree: start += count and count = next_count (mam.client.js adds next_count to start and keeps
count, which agrees whenever count == next_count, the only case in which its chain stays verifiable).

The state (``to_state()``) holds the seed: keep it as secret as the seed. It also caches the public leaf hashes of
the current and next trees, so a reboot does not pay for regenerating them (32 leaves at security 2 are ~50 000
Curl-P-27 transforms).
"""

from iota_edge.curl import Curl, curl_hash
from iota_edge.errors import InvalidValue
from iota_edge.signing import check_index, check_security, check_seed
from iota_edge.streams import mam
from iota_edge.trinary import check_trytes

MODES = ("public", "private", "restricted")
STATE_VERSION = 1


def channel_address(root, mode):
    """Where messages of ``root`` are attached: the root itself (public) or Curl-P-81(root) (private, restricted)."""
    root = check_trytes(root, "root", length=81)
    check_mode(mode)
    return root if mode == "public" else curl_hash(root, 81)


def check_mode(mode):
    if mode not in MODES:
        raise InvalidValue("mode: expected 'public', 'private' or 'restricted', got %r" % (mode,), "mode")
    return mode


def check_mode_key(mode, side_key):
    """The side key a mode uses (81 trytes, or None): restricted requires one, the other modes take none."""
    check_mode(mode)
    if mode == "restricted":
        if not side_key:
            raise InvalidValue("side_key: restricted mode needs a side key", "side_key")
        side_key = check_trytes(side_key, "side_key")
        if len(side_key) > 81:
            raise InvalidValue("side_key: expected at most 81 trytes, got %d" % len(side_key), "side_key")
        return side_key + "9" * (81 - len(side_key))
    if side_key:
        raise InvalidValue("side_key: only restricted mode uses a side key (mode is %r)" % mode, "side_key")
    return None


class Message:
    """One created message: attach ``payload`` to ``address``. ``root`` is the tree root readers verify against,
    ``next_root`` the root announced for the next tree, ``index`` the leaf position in the tree and ``key_index`` the
    seed key that signed it."""

    def __init__(self, root, address, payload, next_root, index, key_index, mode):
        self.root = root
        self.address = address
        self.payload = payload
        self.next_root = next_root
        self.index = index
        self.key_index = key_index
        self.mode = mode

    def transfer(self, tag=""):
        """The zero-value transfer that carries this message (for iota_edge.bundle.prepare_transfer)."""
        return {"address": self.address, "value": 0, "tag": tag, "message_trytes": self.payload}

    def bundle(self, tag="", timestamp=None):
        """Unattached bundle trytes (tail first) carrying this message, as mam.client.js ``attach`` builds it."""
        from iota_edge.bundle import prepare_transfer

        return prepare_transfer(None, [self.transfer(tag)], timestamp=timestamp)

    def __repr__(self):
        return "Message(root=%s..., index=%d, %d payload trytes)" % (self.root[:9], self.index, len(self.payload))


def _check_leaves(cached, count):
    """A cached leaf list from a state dict, or None when absent or of the wrong shape."""
    if not isinstance(cached, (list, tuple)) or len(cached) != count:
        return None
    out = []
    for leaf in cached:
        out.append(mam.trytes_to_otrits(check_trytes(leaf, "leaves", length=81)))
    return out


class Channel:
    """The publishing side of a MAM v0 channel. ``store`` (optional) is any object with ``save(state_dict)``."""

    def __init__(self, seed, mode="public", side_key=None, security=2, start=0, count=1, next_count=1, index=0,
                 store=None):
        self.seed = check_seed(seed)
        self.mode = mode
        self.side_key = check_mode_key(mode, side_key)
        self.security = check_security(security)
        self.start = check_index(start, "start")
        self.count = mam.check_count(count, "count")
        self.next_count = mam.check_count(next_count, "next_count")
        self.index = check_index(index, "index")
        if index >= count:
            raise InvalidValue("index: expected 0 <= index < count (%d), got %d" % (count, index), "index")
        self.store = store
        self._seed_ot = mam.trytes_to_otrits(self.seed, "seed")
        self._leaves = None  # leaf hashes of the tree (start, count), offset trits
        self._next_leaves = None  # of the tree (start + count, next_count)

    # --- trees ---------------------------------------------------------------------------------------------------

    def _tree(self):
        if self._leaves is None:
            self._leaves = mam.tree_leaves(self._seed_ot, self.start, self.count, self.security)
        return self._leaves

    def _next_tree(self):
        if self._next_leaves is None:
            self._next_leaves = mam.tree_leaves(self._seed_ot, self.start + self.count, self.next_count,
                                                self.security)
        return self._next_leaves

    @property
    def root(self):
        """Root of the current tree: the channel id readers start from (mam.client.js ``getRoot``)."""
        return mam.otrits_to_trytes(mam.tree_root(self._tree()))

    @property
    def next_root(self):
        """Root of the next tree, announced in every message of the current one."""
        return mam.otrits_to_trytes(mam.tree_root(self._next_tree()))

    @property
    def address(self):
        """Address of the next message (the root, or Curl-P-81 of it outside public mode)."""
        return channel_address(self.root, self.mode)

    # --- state ---------------------------------------------------------------------------------------------------

    def to_state(self):
        """A plain dict (JSON-ready) from which ``Channel.from_state`` resumes; it contains the seed."""
        d = {
            "version": STATE_VERSION,
            "seed": self.seed,
            "mode": self.mode,
            "side_key": self.side_key,
            "security": self.security,
            "start": self.start,
            "count": self.count,
            "next_count": self.next_count,
            "index": self.index,
        }
        if self._leaves is not None:
            d["leaves"] = [mam.otrits_to_trytes(leaf) for leaf in self._leaves]
        if self._next_leaves is not None:
            d["next_leaves"] = [mam.otrits_to_trytes(leaf) for leaf in self._next_leaves]
        return d

    @classmethod
    def from_state(cls, state, store=None):
        """Resume from ``to_state()`` output, or from a mam.client.js state ``{"seed", "channel": {...}}``."""
        if not isinstance(state, dict):
            raise InvalidValue("state: expected a dict", "state")
        if "channel" in state:  # mam.client.js: {subscribed, channel: {side_key, mode, ...}, seed}
            d = dict(state["channel"])
            d["seed"] = state.get("seed")
        else:
            d = state
            version = d.get("version", STATE_VERSION)
            if version != STATE_VERSION:
                raise InvalidValue("state.version: expected %d, got %r" % (STATE_VERSION, version), "state")
        for name in ("seed", "mode", "security", "start", "count", "next_count", "index"):
            if name not in d:
                raise InvalidValue("state: missing %r" % name, "state")
        ch = cls(d["seed"], d["mode"], d.get("side_key"), d["security"], d["start"], d["count"], d["next_count"],
                 d["index"], store=store)
        ch._leaves = _check_leaves(d.get("leaves"), ch.count)
        ch._next_leaves = _check_leaves(d.get("next_leaves"), ch.next_count)
        return ch

    # --- messages ------------------------------------------------------------------------------------------------

    def create_message(self, message_trytes):
        """Sign and mask ``message_trytes`` with the next unused leaf; return a Message.

        Order of work: both trees (the slow part, nothing reserved yet), then the advanced state is saved to the
        store (a failing save raises and leaves the channel as it was, nothing signed), then the signature."""
        message_trytes = check_trytes(message_trytes, "message_trytes")
        leaves = self._tree()
        next_leaves = self._next_tree()
        index = self.index
        key_index = self.start + index
        root_ot = mam.tree_root(leaves)
        next_root_ot = mam.tree_root(next_leaves)
        siblings = mam.tree_siblings(leaves, index)

        # Reserve the leaf: the state after this message, saved before anything is signed.
        if index == self.count - 1:
            new = (self.start + self.count, self.next_count, 0, next_leaves, None)
        else:
            new = (self.start, self.count, index + 1, leaves, next_leaves)
        old = (self.start, self.count, self.index, self._leaves, self._next_leaves)
        self.start, self.count, self.index, self._leaves, self._next_leaves = new
        if self.store is not None:
            try:
                self.store.save(self.to_state())
            except BaseException:
                self.start, self.count, self.index, self._leaves, self._next_leaves = old
                raise

        payload = build_payload(self._seed_ot, key_index, index, self.security, message_trytes,
                                mam.check_key(self.side_key), root_ot, siblings, next_root_ot)
        root = mam.otrits_to_trytes(root_ot)
        return Message(root, channel_address(root, self.mode), payload, mam.otrits_to_trytes(next_root_ot), index,
                       key_index, self.mode)


def build_payload(seed_ot, key_index, index, security, message_trytes, key_ot, root_ot, siblings, next_root_ot):
    """The masked, signed payload trytes of spec 9.3 (mam.js channel.ts createMessage)."""
    message_ot = mam.trytes_to_otrits(message_trytes, "message_trytes")
    hdr_index = mam.pascal_otrits(index)
    hdr_length = mam.pascal_otrits(len(message_ot))
    hdr_siblings = mam.pascal_otrits(len(siblings))
    p_next = len(hdr_index) + len(hdr_length)
    p_msg = p_next + mam.HASH
    p_nonce = p_msg + len(message_ot)
    p_sig = p_nonce + mam.NONCE
    p_count = p_sig + security * mam.FRAGMENT
    p_sib = p_count + len(hdr_siblings)
    p_end = p_sib + mam.HASH * len(siblings)
    buf = mam.zeros(p_end + (-p_end) % 3)  # the tail pads to a whole tryte
    buf[0 : len(hdr_index)] = hdr_index
    buf[len(hdr_index) : p_next] = hdr_length
    buf[p_next:p_msg] = next_root_ot
    buf[p_msg:p_nonce] = message_ot
    del message_ot

    c = Curl(27)
    mam.absorb(c, key_ot)
    mam.absorb(c, root_ot)
    mam.absorb(c, buf, 0, p_next)
    mam.mask(c, buf, p_next, p_nonce)  # next root | message
    buf[p_nonce:p_sig] = mam.hamming_nonce(c, security)
    mam.mask(c, buf, p_nonce, p_sig)  # now the rate is the hash that gets signed
    hmac = bytes(c.state[0 : mam.HASH])
    mam.sign_into(seed_ot, key_index, security, hmac, buf, p_sig)
    buf[p_count:p_sib] = hdr_siblings
    for i, s in enumerate(siblings):
        buf[p_sib + mam.HASH * i : p_sib + mam.HASH * (i + 1)] = s
    mam.mask(c, buf, p_sig, p_end)  # signature | sibling count | siblings
    return mam.otrits_to_trytes(buf)
