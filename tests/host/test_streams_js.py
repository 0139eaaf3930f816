"""MAM v0 against the official libraries: @iota/mam 0.7.3 (mam.client.js) and @iota/mam.js parse what we create,
and we parse what they create, in all three modes (tests/js/mam_tool.js; install with ``bash tests/js/setup.sh``)."""
import json
import os
import shutil
import subprocess

import pytest

from iota_edge.errors import InvalidMessage
from iota_edge.streams import Channel, parse_payload
from iota_edge.streams.reading import reading_from_trytes, reading_to_trytes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JS = os.path.join(ROOT, "tests", "js")
SEED = "IOTAEDGE9JS9CROSS9CHECK" + "9" * 58
LIBS = ("client", "mamjs")
CHANNELS = [  # mode, side key, security, count (next_count equal), start
    ("public", None, 2, 1, 0),
    ("private", None, 1, 2, 7),
    ("restricted", "IOTAEDGE9SIDE9KEY", 1, 4, 0),
    ("restricted", "K" * 81, 2, 1, 3),
    ("public", None, 3, 1, 1),
]


@pytest.fixture(scope="module")
def node_tool():
    node = shutil.which("node")
    missing = None
    if not node:
        missing = "node (v18+) is not installed"
    elif not os.path.isdir(os.path.join(JS, "node_modules", "@iota", "mam")):
        missing = "the official MAM libraries are not installed: bash tests/js/setup.sh"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)

    def run(*requests):
        """One reply per request; the requests run in parallel node processes."""
        procs = [subprocess.Popen([node, os.path.join(JS, "mam_tool.js")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in requests]
        replies = []
        for proc, request in zip(procs, requests):
            out, err = proc.communicate(json.dumps(request), timeout=600)
            assert proc.returncode == 0, err[-2000:]
            replies.append(json.loads(out))
        return replies[0] if len(replies) == 1 else replies

    return run


MESSAGES = ["HELLO9WORLD", reading_to_trytes("js-check", 7, 1700000000, [("t", 21.5, "Cel"), ("v", 3.3, "V")]),
            ""]  # mam.js refuses to create an empty message: the official ones make only the first two
_cache = {}


def _ours(mode, key, security, count, start):
    """Our three messages from the last leaf of a tree on (the boundary is where bookkeeping can go wrong), with
    the channel state after each (cached: keys cost Curl time)."""
    args = (mode, key, security, count, start)
    if args not in _cache:
        ch = Channel(SEED, mode=mode, side_key=key, security=security, start=start, count=count, next_count=count,
                     index=count - 1)
        out = []
        for text in MESSAGES:
            m = ch.create_message(text)
            out.append({"payload": m.payload, "root": m.root, "address": m.address, "next_root": m.next_root,
                        "message": text, "index": m.index, "after": (ch.start, ch.index), "side_key": ch.side_key})
        _cache[args] = out
    return _cache[args]


@pytest.mark.parametrize("mode,key,security,count,start", CHANNELS)
def test_official_libraries_parse_our_messages(node_tool, mode, key, security, count, start):
    ours = _ours(mode, key, security, count, start)
    items = [{"payload": m["payload"], "root": m["root"], "side_key": key} for m in ours]
    for lib, reply in zip(LIBS, node_tool(*[{"lib": lib, "op": "parse", "items": items} for lib in LIBS])):
        got = [(r.get("message"), r.get("next_root"), r.get("error")) for r in reply["results"]]
        assert got == [(m["message"], m["next_root"], None) for m in ours], lib


@pytest.mark.parametrize("mode,key,security,count,start", CHANNELS)
def test_we_parse_official_messages_and_agree_on_roots_and_state(node_tool, mode, key, security, count, start):
    ours = _ours(mode, key, security, count, start)
    channel = {"seed": SEED, "mode": mode, "side_key": key, "security": security, "start": start,
               "count": count, "next_count": count, "index": count - 1}
    replies = node_tool(*[{"lib": lib, "op": "create", "channel": channel, "messages": MESSAGES[:2]} for lib in LIBS])
    for lib, reply in zip(LIBS, replies):
        for i, (theirs, mine) in enumerate(zip(reply["messages"], ours)):
            assert (theirs["root"], theirs["address"], theirs["next_root"]) == (
                mine["root"], mine["address"], mine["next_root"]), (lib, i)
            m = parse_payload(theirs["payload"], theirs["root"], key)
            assert (m.message, m.next_root) == (mine["message"], mine["next_root"]), (lib, i)
            assert m.index == mine["index"] and m.security == security
            # Same header, same masked message; the nonce (and so the rest) differs by search order.
            if lib == "mamjs":
                assert theirs["payload"][:50] == mine["payload"][:50]
        state = reply["channel"]
        assert (state["start"], state["index"]) == ours[1]["after"], lib
        if lib == "client":  # mam.client.js keeps the same state shape: we resume from it
            resumed = Channel.from_state({"seed": SEED, "channel": state})
            assert resumed.root == ours[2]["root"] and resumed.side_key == ours[2]["side_key"]


def test_reading_survives_the_official_round_trip(node_tool):
    ours = _ours("restricted", "IOTAEDGE9SIDE9KEY", 1, 4, 0)
    reply = node_tool({"lib": "mamjs", "op": "parse", "items": [
        {"payload": ours[1]["payload"], "root": ours[1]["root"], "side_key": "IOTAEDGE9SIDE9KEY"}]})
    r = reading_from_trytes(reply["results"][0]["message"])
    assert (r.device, r.seq, r.values) == ("js-check", 7, [("t", 21.5, "Cel"), ("v", 3.3, "V")])


def test_official_libraries_reject_what_we_reject(node_tool):
    """A payload we refuse after a one-trit change is refused by mam.js too (its errors are the same kind)."""
    from iota_edge.streams import mam

    ours = _ours("private", None, 1, 2, 7)
    buf = mam.trytes_to_otrits(ours[0]["payload"])
    items = []
    for trit in (3, 260, 400, 3000, len(buf) - 100):
        b = bytearray(buf)
        b[trit] = (b[trit] + 1) % 3
        payload = mam.otrits_to_trytes(b)
        with pytest.raises(InvalidMessage):
            parse_payload(payload, ours[0]["root"])
        items.append({"payload": payload, "root": ours[0]["root"]})
    reply = node_tool({"lib": "mamjs", "op": "parse", "items": items})
    assert all("error" in r for r in reply["results"]), reply
