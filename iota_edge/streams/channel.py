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
from iota_edge.streams import mam
from iota_edge.trinary import check_seed, check_trytes

MODES = ("public", "private", "restricted")
STATE_VERSION = 1


def channel_address(root, mode):
    """Where messages of ``root`` are attached: the root itself (public) or Curl-P-81(root) (private, restricted)."""
    root = check_trytes(root, "root", length=81)
    check_mode(mode)
    return root if mode == "public" else curl_hash(root, 81)


def _check_int(value, field, low=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidValue("%s: expected an int >= %d, got %r" % (field, low, value), field)
    return value


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
    for leaf in cached:
        check_trytes(leaf, "leaves", length=81)
    return list(cached)


class Channel:
    """The publishing side of a MAM v0 channel. ``store`` (optional) is any object with ``save(state_dict)``."""

    def __init__(self, seed, mode="public", side_key=None, security=2, start=0, count=1, next_count=1, index=0,
                 store=None):
        self.seed = check_seed(seed)
        self.mode = mode
        self.side_key = check_mode_key(mode, side_key)
        if security not in (1, 2, 3) or isinstance(security, bool):
            raise InvalidValue("security: expected 1, 2 or 3, got %r" % (security,), "security")
        self.security = security
        self.start = _check_int(start, "start")
        self.count = mam.check_count(count, "count")
        self.next_count = mam.check_count(next_count, "next_count")
        self.index = _check_int(index, "index")
        if index >= count:
            raise InvalidValue("index: expected 0 <= index < count (%d), got %d" % (count, index), "index")
        self.store = store
        self._seed_ot = mam.trytes_to_otrits(self.seed, "seed")
        self._leaves = None  # leaf hashes (81-tryte strings) of the tree (start, count)
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
        return mam.tree_root(self._tree())

    @property
    def next_root(self):
        """Root of the next tree, announced in every message of the current one."""
        return mam.tree_root(self._next_tree())

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
            d["leaves"] = list(self._leaves)
        if self._next_leaves is not None:
            d["next_leaves"] = list(self._next_leaves)
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
        depth = 0
        while (1 << depth) < self.count:
            depth += 1
        out = mam.TryteWriter(payload_trits(self.index, len(message_trytes), self.security, depth))  # first: see
        leaves = self._tree()
        next_leaves = self._next_tree()
        index = self.index
        key_index = self.start + index
        root_ot, siblings = mam.tree_path(leaves, index)
        next_root_ot = mam.tree_path(next_leaves, 0)[0]

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
                                mam.check_key(self.side_key), root_ot, siblings, next_root_ot, out)
        root = mam.otrits_to_trytes(root_ot)
        return Message(root, channel_address(root, self.mode), payload, mam.otrits_to_trytes(next_root_ot), index,
                       key_index, self.mode)


def payload_trits(index, message_trytes, security, depth):
    """Length in trits of a payload (before the pad to a whole tryte) for a message of ``message_trytes``."""
    return (len(mam.pascal_otrits(index)) + len(mam.pascal_otrits(3 * message_trytes)) + mam.HASH
            + 3 * message_trytes + mam.NONCE + security * mam.FRAGMENT + len(mam.pascal_otrits(depth))
            + mam.HASH * depth)


def build_payload(seed_ot, key_index, index, security, message_trytes, key_ot, root_ot, siblings, next_root_ot,
                  out=None):
    """The masked, signed payload trytes of spec 9.3 (mam.js channel.ts createMessage), produced chunk by chunk:
    header | mask(next root | message) | mask(nonce) | mask(signature | pascal(#siblings) | siblings) | zero pad.
    Masking a region chunk by chunk is the same as masking it whole (mask works in 243-trit chunks from the region
    start), so no buffer ever holds more than one chunk of the payload. ``out``: a TryteWriter made beforehand."""
    hdr_index = mam.pascal_otrits(index)
    hdr_length = mam.pascal_otrits(3 * len(message_trytes))
    n_siblings = mam.pascal_otrits(len(siblings))
    if out is None:
        out = mam.TryteWriter(payload_trits(index, len(message_trytes), security, len(siblings)))
    c = Curl(27)
    mam.absorb(c, key_ot)
    mam.absorb(c, root_ot)
    header = hdr_index + hdr_length
    mam.absorb(c, header)
    out.put(header)

    chunk = bytearray(next_root_ot)  # the first chunk of the region is the next root, 243 trits
    mam.mask(c, chunk, 0, mam.HASH)
    out.put(chunk)
    for pos in range(0, len(message_trytes), 81):  # then the message, 81 trytes a chunk
        part = mam.trytes_to_otrits(message_trytes[pos : pos + 81], "message_trytes")
        mam.mask(c, part, 0, len(part))
        out.put(part)

    nonce = mam.hamming_nonce(c, security)
    mam.mask(c, nonce, 0, mam.NONCE)  # now the rate is the hash that gets signed
    out.put(nonce)
    hmac = bytes(c.state[0 : mam.HASH])

    def emit(segment):
        chunk[0 : mam.HASH] = segment
        mam.mask(c, chunk, 0, mam.HASH)
        out.put(chunk)

    mam.sign_segments(seed_ot, key_index, security, hmac, emit)
    # pascal(#siblings) | siblings, masked in 243-trit chunks from its start like the rest, assembled in ``chunk``.
    fill = 0
    for piece in [n_siblings] + siblings:
        p = 0
        while p < len(piece):
            take = min(mam.HASH - fill, len(piece) - p)
            chunk[fill : fill + take] = memoryview(piece)[p : p + take]
            fill += take
            p += take
            if fill == mam.HASH:
                mam.mask(c, chunk, 0, mam.HASH)
                out.put(chunk)
                fill = 0
    if fill:
        mam.mask(c, chunk, 0, fill)
        out.put(chunk, 0, fill)
    return out.finish()
