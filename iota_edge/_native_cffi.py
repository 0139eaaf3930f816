"""The cffi binding of the C kernel (CPython): thin tryte-string wrappers over ``iota_edge._kernel``.

Imported only by ``iota_edge._native`` (which MicroPython never makes load this file); raises ImportError when the
extension was not built. See csrc/README.md for the kernel itself.
"""
import os as _os
import threading as _threading
import time as _time

from iota_edge._kernel import ffi as _ffi
from iota_edge._kernel import lib as _lib
from iota_edge.errors import InvalidTrytes, InvalidValue, IotaEdgeError, PowError

_SIMD_IDS = {
    "auto": _lib.IK_SIMD_AUTO,
    "portable": _lib.IK_SIMD_PORTABLE,
    "sse2": _lib.IK_SIMD_SSE2,
    "avx2": _lib.IK_SIMD_AVX2,
    "avx512": _lib.IK_SIMD_AVX512,
    "neon": _lib.IK_SIMD_NEON,
}
_SIMD_NAMES = {v: k for k, v in _SIMD_IDS.items()}
SIMD = _SIMD_NAMES[_lib.ik_pow_simd_best()]
SIMD_WIDTHS = tuple(
    n for n in ("avx512", "avx2", "neon", "sse2", "portable") if _lib.ik_pow_simd_supported(_SIMD_IDS[n])
)
MAX_THREADS = 64
CPU_COUNT = max(1, min(MAX_THREADS, _os.cpu_count() or 1))
AVAILABLE = True
BACKEND = "c (%s, %d thread%s max)" % (SIMD, CPU_COUNT, "" if CPU_COUNT == 1 else "s")

def lanes(simd):
    """Candidates per batch of a SIMD width name."""
    return int(_lib.ik_pow_simd_lanes(_SIMD_IDS[simd]))

def _check(status, field, what):
    """The one mapping from kernel status codes to exceptions (callers have validated, so these are rare)."""
    if status == _lib.IK_OK:
        return
    if status in (_lib.IK_ERR_TRYTE, _lib.IK_ERR_LENGTH):
        raise InvalidTrytes("%s: the kernel refused it (%s)" % (field, what), field)
    if status == _lib.IK_ERR_VALUE:
        raise InvalidValue("%s: out of range for the kernel (%s)" % (field, what), field)
    raise IotaEdgeError("%s: kernel status %d (%s)" % (field, status, what), field)

def _trits(trytes, field):
    raw = trytes.encode("ascii") if isinstance(trytes, str) else bytes(trytes)
    out = _ffi.new("int8_t[]", 3 * len(raw) or 1)
    _check(_lib.ik_trytes_to_trits(raw, len(raw), out), field, "tryte alphabet 9A-Z")
    return out

def _trytes(trits, n_trits):
    out = _ffi.new("char[]", (n_trits + 2) // 3 or 1)
    _check(_lib.ik_trits_to_trytes(trits, n_trits, out), "trits", "trit values -1..1")
    return _ffi.unpack(out, (n_trits + 2) // 3).decode("ascii")

def curl_hash(trytes, rounds=81):
    """Curl-P (27 or 81 rounds) of any number of trytes, 81 trytes out."""
    raw = trytes.encode("ascii")
    out = _ffi.new("char[81]")
    _check(_lib.ik_curl_hash_trytes(raw, len(raw), rounds, out), "trytes", "Curl-P input")
    return _ffi.unpack(out, 81).decode("ascii")

# Curl's Python state holds offset trits (t + 1, so 0..2); the kernel's holds int8 trits.
_TO_INT8 = bytes([255, 0, 1] + [0] * 253)
_TO_OFFSET = bytes([1, 2] + [0] * 253 + [0])


def curl_transform(state, rounds):
    """Transform a 729-byte offset-trit Curl state in place (``iota_edge.curl.Curl.state``)."""
    buf = bytearray(bytes(state).translate(_TO_INT8))
    _lib.ik_curl_transform(_ffi.from_buffer("int8_t[]", buf), rounds)
    state[:] = buf.translate(_TO_OFFSET)


def _int8(buf, start, n, field):
    """int8 trits (a bytearray) of offset trits ``buf[start:start + n]``, which must all be there: the kernel reads
    n of them."""
    out = bytearray(bytes(memoryview(buf)[start : start + n]).translate(_TO_INT8))
    if len(out) != n:
        _check(_lib.IK_ERR_LENGTH, field, "%d trits" % n)
    return out


def _ptr(trits, start=0):
    return _ffi.from_buffer("int8_t[]", memoryview(trits)[start:])


def curl_chain(state, times, rounds):
    """mam._chain: hash the rate of a 729-byte offset-trit Curl state ``times`` times, each a fresh sponge."""
    buf = _int8(state, 0, 729, "state")
    _check(_lib.ik_curl_chain(_ptr(buf), times, rounds), "rounds", "1..81")
    state[:] = buf.translate(_TO_OFFSET)


_CURL_SIZE = _ffi.sizeof("ik_curl")


def _duplex(function, curl, buf, start, end):
    raw = bytearray(_CURL_SIZE)  # an ik_curl holding the state and rounds of the iota_edge.curl.Curl
    raw[0:729] = _int8(curl.state, 0, 729, "state")
    ctx = _ffi.from_buffer("ik_curl *", raw)
    ctx.rounds = curl.rounds
    trits = _int8(buf, start, end - start, "buf")
    function(ctx, _ptr(trits), len(trits))
    buf[start:end] = trits.translate(_TO_OFFSET)
    curl.state[:] = raw[0:729].translate(_TO_OFFSET)


def mam_mask(curl, buf, start, end):
    """mam.mask: encrypt offset trits ``buf[start:end]`` in place with the Curl-P-27 sponge ``curl`` (moved on)."""
    _duplex(_lib.ik_mam_mask, curl, buf, start, end)


def mam_unmask(curl, buf, start, end):
    """mam.unmask: decrypt offset trits ``buf[start:end]`` in place with the Curl-P-27 sponge ``curl`` (moved on)."""
    _duplex(_lib.ik_mam_unmask, curl, buf, start, end)


def mam_leaf(hmac, buf, pos, security):
    """mam.leaf_of_signature: the leaf (243 offset trits) of the signature at ``buf[pos:]`` for ``hmac``."""
    if security not in (1, 2, 3):
        _check(_lib.IK_ERR_VALUE, "security", "1..3")
    sig = _int8(buf, pos, 6561 * security, "signature")
    leaf = bytearray(243)
    status = _lib.ik_mam_leaf(_ptr(_int8(hmac, 0, 243, "hmac")), _ptr(sig), security, _ptr(leaf))
    _check(status, "hmac", "243 trits")
    return leaf.translate(_TO_OFFSET)


def mam_fold(leaf, buf, pos, count, index):
    """mam.fold_siblings: the root (243 offset trits) from ``leaf`` through ``count`` siblings at ``buf[pos:]``."""
    node = _int8(leaf, 0, 243, "leaf")
    sib = _int8(buf, pos, 243 * count, "siblings")
    done = 0
    while done < count:  # the kernel takes 64 index bits at a time
        step = min(64, count - done)
        _lib.ik_mam_fold(_ptr(node), _ptr(sib, 243 * done), step, (index >> done) & (2**64 - 1))
        done += step
    return node.translate(_TO_OFFSET)


MAM_REASONS = (None, "decode", "nonce", "index", "signature")  # by ik_mam_reason


def mam_parse(payload, root, key):
    """parser.parse_payload in one kernel call: ``payload`` and ``root`` checked tryte strings, ``key`` the 243
    offset trits of mam.check_key. ``(0, message, next_root, index, security, depth)`` when the payload verifies,
    else ``(reason, None, None, 0, 0, 0)`` with reason 1..4 (MAM_REASONS: decode, nonce, index, signature)."""
    raw = payload.encode("ascii")
    n = len(raw)
    work = bytearray(3 * n or 1)
    message = bytearray(n or 1)
    next_root = bytearray(81)
    out = _ffi.new("ik_mam_parsed *")
    status = _lib.ik_mam_parse(raw, n, root.encode("ascii"), _ptr(_int8(key, 0, 243, "key")), _ptr(work),
                               _ffi.from_buffer("char[]", message), _ffi.from_buffer("char[]", next_root), out)
    return _mam_result(status, out, message, next_root)


def _mam_result(status, parsed, message, next_root):
    """mam_parse's tuple from a kernel status, its ik_mam_parsed and the message / next root buffers it wrote."""
    if status == _lib.IK_OK:
        return (0, bytes(message[: parsed.message_trytes]).decode(), bytes(next_root).decode(), parsed.index,
                parsed.security, parsed.depth)
    if status == _lib.IK_ERR_MISMATCH:
        return parsed.reason, None, None, 0, 0, 0
    _check(status, "payload", "trytes 9A-Z, key trits")
    raise IotaEdgeError("payload: kernel status %d" % status, "payload")


def mam_parse_many(items):
    """mam_parse over a batch in one kernel call (ik_mam_parse_many: the payloads' Curl work byte-sliced across
    them): ``items`` a list of (payload, root, key) as mam_parse takes them; returns the list of the tuples mam_parse
    returns, in order."""
    m = len(items)
    if m == 0:
        return []
    c_items = _ffi.new("ik_mam_item[]", m)
    keep = []  # the buffers the items point into, alive until the call returns
    total = sum(len(payload) for payload, _, _ in items)
    work = bytearray(3 * total or 1)
    messages = bytearray(total or 1)
    next_roots = bytearray(81 * m)
    work_p = _ffi.from_buffer("int8_t[]", work)
    messages_p = _ffi.from_buffer("char[]", messages)
    next_p = _ffi.from_buffer("char[]", next_roots)
    keys = {}  # id of a key object -> its int8 trits: items often share one (no side key, one device's)
    pos = 0
    for i, (payload, root, key) in enumerate(items):
        raw = payload.encode("ascii")
        root_raw = root.encode("ascii")
        key_p = keys.get(id(key))
        if key_p is None:
            key_buf = _int8(key, 0, 243, "key")
            key_p = keys[id(key)] = _ffi.from_buffer("int8_t[]", key_buf)
            keep.append(key_buf)
        keep.append((raw, root_raw))
        it = c_items[i]
        it.payload = _ffi.from_buffer(raw)
        it.n = len(raw)
        it.root = _ffi.from_buffer(root_raw)
        it.key = key_p
        it.work = work_p + 3 * pos
        it.message = messages_p + pos
        it.next_root = next_p + 81 * i
        pos += len(raw)
    # one pass for security-1 batches (the gateway's devices); higher levels take a few
    scratch = bytearray(_lib.ik_mam_parse_many_scratch(m, 1))
    _check(_lib.ik_mam_parse_many(c_items, m, _ffi.from_buffer(scratch), len(scratch)), "scratch", "size")
    out = []
    view = memoryview(messages)
    pos = 0
    for i in range(m):
        it = c_items[i]
        out.append(_mam_result(it.status, it.parsed, view[pos:], next_roots[81 * i : 81 * i + 81]))
        pos += it.n
    return out


def otrits(trytes):
    """Offset trits (bytearray, 3 per tryte) of a checked tryte string (mam.trytes_to_otrits)."""
    raw = trytes.encode("ascii")
    out = bytearray(3 * len(raw))
    _check(_lib.ik_trytes_to_trits(raw, len(raw), _ptr(out)), "trytes", "alphabet 9A-Z")
    return out.translate(_TO_OFFSET)


def otrits_to_trytes(buf, start, end):
    """Tryte string of offset trits ``buf[start:end]`` (mam.otrits_to_trytes; a partial last tryte is zero-padded)."""
    n = end - start
    trits = _int8(buf, start, n, "buf")
    out = _ffi.new("char[]", (n + 2) // 3 or 1)
    _check(_lib.ik_trits_to_trytes(_ptr(trits), n, out), "buf", "offset trits 0..2")
    return _ffi.unpack(out, (n + 2) // 3).decode("ascii")


def bundle_finalize(essences):
    """The tail's obsolete tag after the M-bug escape and the bundle hash, from the essence trytes (162 per
    transaction, tail first) with the tail's original tag."""
    if not essences or len(essences) % 162:
        raise InvalidTrytes("essences: expected 162 trytes per transaction, got %d" % len(essences), "essences")
    n = 3 * len(essences)
    trits = _ffi.new("int8_t[]", n + 243 + 81)  # the essences, then the hash and a copy of the tail's tag
    raw = essences.encode("ascii")
    _check(_lib.ik_trytes_to_trits(raw, len(raw), trits), "essences", "tryte alphabet 9A-Z")
    _check(_lib.ik_bundle_finalize(trits, len(essences) // 162, trits + n), "essences", "162 trytes each")
    _ffi.memmove(trits + n + 243, trits + 324, 81)
    out = _trytes(trits + n, 324)  # both in one conversion
    return out[81:], out[:81]


def bundle_message(address, tag, message, timestamp):
    """bundle._zero_value_trytes for one transfer in one kernel call (ik_bundle_message): the transactions' trytes,
    tail first, of a zero-value bundle carrying ``message`` (trytes) to ``address`` (81 trytes) with ``tag`` (27
    trytes), ``timestamp`` checked by the caller."""
    n_tx = max(1, (len(message) + 2186) // 2187)
    out = bytearray(2673 * n_tx)
    work = _ffi.new("int8_t[]", 486 * n_tx)
    _check(_lib.ik_bundle_message(address.encode("ascii"), tag.encode("ascii"), message.encode("ascii"), len(message),
                                  timestamp, work, _ffi.from_buffer("char[]", out)), "message", "trytes 9A-Z")
    trytes = out.decode("ascii")
    return [trytes[i : i + 2673] for i in range(0, 2673 * n_tx, 2673)]


def kerl_hash(trytes, length=81):
    """Kerl of a multiple of 81 trytes, squeezed to ``length`` trytes (a multiple of 81)."""
    raw = trytes.encode("ascii")
    out = _ffi.new("char[]", length or 1)
    _check(_lib.ik_kerl_hash_trytes(raw, len(raw), out, length), "trytes", "multiples of 81 trytes")
    return _ffi.unpack(out, length).decode("ascii")

def _seed_index(seed, index):
    """Seed trits and a 64-bit index for the kernel; larger indices are folded into the seed in Python
    (seed + index wraps modulo 3^243 either way, spec 1.2)."""
    seed_trits = _trits(seed, "seed")
    if index < 1 << 64:
        return seed_trits, index
    from iota_edge.trinary import add_trits, int_to_trits

    summed = add_trits(list(seed_trits), int_to_trits(index)[:243])
    return _ffi.new("int8_t[243]", summed[:243]), 0

def generate_address(seed, index, security):
    """81-tryte address (no checksum) of an 81-tryte seed."""
    seed_trits, index = _seed_index(seed, index)
    address = _ffi.new("int8_t[243]")
    _check(_lib.ik_address(seed_trits, index, security, address), "security", "1, 2 or 3")
    return _trytes(address, 243)

def _normalized(bundle_hash):
    norm = _ffi.new("int8_t[81]")
    _lib.ik_normalize(_trits(bundle_hash, "bundle_hash"), norm)
    return norm

def sign(seed, index, security, bundle_hash):
    """``security`` signature fragments of 2187 trytes; fragment f signs normalized chunk f % 3."""
    seed_trits, index = _seed_index(seed, index)
    sig = _ffi.new("int8_t[]", 6561 * security)
    _check(_lib.ik_sign(seed_trits, index, security, _normalized(bundle_hash), sig), "security", "1..3")
    trytes = _trytes(sig, 6561 * security)
    return [trytes[2187 * f : 2187 * (f + 1)] for f in range(security)]

def verify_signature(address, fragments, bundle_hash):
    """True if the fragments (fragment f against normalized chunk f % 3) lead to ``address``."""
    if not fragments:
        return False
    joined = "".join(fragments)
    if len(joined) != 2187 * len(fragments):
        raise InvalidTrytes("fragments: expected 2187 trytes each", "fragments")
    status = _lib.ik_verify(
        _trits(address, "address"), _trits(joined, "fragments"), len(fragments), _normalized(bundle_hash)
    )
    if status == _lib.IK_ERR_MISMATCH:
        return False
    _check(status, "fragments", "signature fragments")
    return True

class CancelEvent(_threading.Event):
    """A threading.Event whose ``set()`` cancels the searches given it at once, in the caller's thread. A plain
    Event works too, but the watcher thread must look at it every ``_Watcher.POLL_S`` while a search runs, and each
    of those wakes takes the CPU from the searches (a gateway's PoW worker shares its core with it)."""

    def set(self):
        super().set()
        _WATCHER.cancel(self)


class _Watcher:
    """The searches in flight that can be cancelled or time out. A CancelEvent cancels its own searches when set;
    for the others one thread sets ``cancel`` in the control block of each whose plain Event is set (looked at every
    ``POLL_S``) or whose deadline passed, and sleeps until the next of those is due (indefinitely when none is). It
    starts on first need (again after a fork). A thread per search cost more than a short search itself. A search
    is only woken for when it needs an earlier look than the one already due (a gateway starts two per reading)."""

    POLL_S = 0.02  # a plain Event's cancel takes effect within this; each wake takes the GIL from the gateway

    def __init__(self):
        self._cond = _threading.Condition()
        self._active = {}
        self._next = 0
        self._thread = None
        self._due = None  # monotonic time of the watcher thread's next look; None: it sleeps until notified

    def add(self, ctl, cancel_event, deadline):
        with self._cond:
            self._next += 1
            self._active[self._next] = (ctl, cancel_event, deadline)
            if cancel_event is not None and cancel_event.is_set():  # set before it was registered here
                ctl.cancel = 1
                return self._next
            need = self._need(cancel_event, deadline, _time.monotonic())
            if need is not None and (self._due is None or need < self._due):
                if self._thread is None or not self._thread.is_alive():
                    self._thread = _threading.Thread(target=self._run, name="iota_edge-pow-watch", daemon=True)
                    self._thread.start()
                self._due = need
                self._cond.notify()
            return self._next

    def remove(self, key):
        with self._cond:
            self._active.pop(key, None)

    def cancel(self, event):
        """Cancel the searches given ``event`` (a CancelEvent just set)."""
        with self._cond:
            for ctl, e, _ in self._active.values():
                if e is event:
                    ctl.cancel = 1

    def _need(self, event, deadline, now):
        """When a search needs the watcher thread's next look: its deadline, or now + POLL_S for a plain Event;
        None when never (a CancelEvent without a deadline)."""
        if event is not None and not isinstance(event, CancelEvent):
            return now + self.POLL_S if deadline is None else min(deadline, now + self.POLL_S)
        return deadline

    def _run(self):
        with self._cond:
            while True:
                now = _time.monotonic()
                due = None
                for ctl, event, deadline in self._active.values():
                    if ctl.cancel:
                        continue
                    if (event is not None and event.is_set()) or (deadline is not None and now >= deadline):
                        ctl.cancel = 1
                        continue
                    need = self._need(event, deadline, now)
                    if need is not None and (due is None or need < due):
                        due = need
                self._due = due
                # capped: an infinite timeout (pow accepts one) would make Condition.wait raise OverflowError
                self._cond.wait(None if due is None else min(max(0.0, due - now), _threading.TIMEOUT_MAX))


_WATCHER = _Watcher()
if hasattr(_os, "register_at_fork"):  # a child must not inherit a lock the parent's watcher held at the fork
    _os.register_at_fork(after_in_child=_WATCHER.__init__)


def _search(tx_trytes, mwm, threads, timeout, cancel_event, simd, hash_out):
    """(status, trials) of one kernel search: nonce (char[27]) and, unless hash_out is None, the transaction's
    hash into hash_out (char[81])."""
    if simd not in _SIMD_IDS:
        raise InvalidValue("simd: expected one of %s, got %r" % (", ".join(_SIMD_IDS), simd), "simd")
    raw = tx_trytes.encode("ascii")
    if len(raw) != 2673:
        raise InvalidTrytes("trytes: expected 2673 trytes, got %d" % len(raw), "trytes")
    ctl = _ffi.new("ik_pow_control *")
    nonce = _ffi.new("char[27]")
    key = None
    if cancel_event is not None or timeout is not None:
        if (cancel_event is not None and cancel_event.is_set()) or (timeout is not None and timeout <= 0):
            ctl.cancel = 1
        else:
            deadline = None if timeout is None else _time.monotonic() + timeout
            key = _WATCHER.add(ctl, cancel_event, deadline)
    try:
        if hash_out is None:
            status = _lib.ik_pow_search_trytes(raw, mwm, _SIMD_IDS[simd], threads, ctl, nonce)
        else:
            status = _lib.ik_pow_search_trytes_hash(raw, mwm, _SIMD_IDS[simd], threads, ctl, nonce, hash_out)
    finally:
        if key is not None:
            _WATCHER.remove(key)
    trials = int(ctl.trials)
    if status == _lib.IK_OK:
        return _ffi.unpack(nonce, 27).decode("ascii"), trials
    if status == _lib.IK_ERR_CANCELLED:
        return None, trials
    if status == _lib.IK_ERR_UNSUPPORTED:
        raise PowError("simd: %s is not supported on this CPU or build" % simd, "simd")
    _check(status, "trytes", "transaction trytes, mwm 0..243, threads 1..64")
    raise PowError("nonce search failed with kernel status %d" % status)


def search(tx_trytes, mwm, threads=1, timeout=None, cancel_event=None, simd="auto"):
    """Nonce search with statistics: ``(nonce or None, trials)``.

    The C search runs with the GIL released (cffi API mode). Cancellation and timeout reach it through
    ``cancel`` in a caller-held ``ik_pow_control`` that every searcher polls between batches; the process's one
    watcher thread (``_Watcher``) sets it when ``cancel_event`` is set or ``timeout`` seconds have passed.
    """
    return _search(tx_trytes, mwm, threads, timeout, cancel_event, simd, None)


def search_hash(tx_trytes, mwm, threads=1, timeout=None, cancel_event=None):
    """``(nonce, hash)``: the nonce as ``search_nonce`` finds it and the 81-tryte Curl-P-81 hash of
    ``tx_trytes[:2646] + nonce``, which the kernel takes from the search's mid-state in one transform;
    ``(None, None)`` on cancel/timeout."""
    out = _ffi.new("char[81]")
    nonce = _search(tx_trytes, mwm, threads, timeout, cancel_event, "auto", out)[0]
    if nonce is None:
        return None, None
    return nonce, _ffi.unpack(out, 81).decode("ascii")


def search_nonce(tx_trytes, mwm, threads=1, timeout=None, cancel_event=None):
    """27-tryte nonce for trytes 2646..2672 giving >= mwm trailing zero trits; None on cancel/timeout."""
    return search(tx_trytes, mwm, threads, timeout, cancel_event)[0]
