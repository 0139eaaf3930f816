"""The forwarder against the project's node on loopback at MWM 9: attach, store, confirm in order; a node killed and
restarted mid-run; reattach when milestones pass a bundle by; the circuit breaker; the node's own PoW; refusals."""
import threading
import time

import pytest
from _forwarder_helpers import (ForwarderThread, NodeProcess, bundle_hash, check_confirmed_once_in_order, fill_outbox,
                              free_port, node_view, reading_bundle, wait_for)
from _node_helpers import have_native_pow

from iota_edge.client import NodeClient
from iota_edge.errors import InvalidValue
from iota_edge.gateway.breaker import Breaker
from iota_edge.gateway.forwarder import MAX_REFUSALS, Forwarder
from iota_edge.gateway.outbox import Outbox
from iota_edge.pow import attach_to_tangle
from iota_edge.transaction import Transaction
from simulators.node import Node

MWM = 9 if have_native_pow() else 3  # the pure search is only fit for tiny MWM (IOTA_EDGE_PURE=1 runs)


def confirmed_count(path):
    with Outbox(path) as box:
        return box.stats()["depth"]["confirmed"]


def withhold(node, n):
    """Issue ``n`` milestones that approve only the previous milestone: whatever waits stays unconfirmed."""
    for _ in range(n):
        index, h = node.tangle.latest_milestone()
        node.coordinator._issue_one(h, h)


def test_forwards_multi_transaction_bundles_confirmed_once_in_order(tmp_path):
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=3, per_device=4)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2) as ft:
            wait_for(lambda: confirmed_count(path) == 12, 120, "12 confirmed items")
        stats = ft.forwarder.stats()  # stopped: its counters follow the outbox's commits, so read them after
        view = check_confirmed_once_in_order(node.url, expected)
        assert all(len(NodeClient(node.url).find_transactions(bundles=[h])) == 3 for h in view)  # 3 tx each
    assert stats["attached"] == stats["stored"] == stats["confirmed"] == 12
    assert stats["reattaches"] == 0 and stats["node_up"] is True and stats["breaker"] == "closed"
    assert stats["pow_latency"]["count"] == stats["pow_count"] == 12 and stats["pow_latency"]["buckets"][-1][1] == 12
    assert sorted(stats["pow_buckets"]) == list(stats["pow_buckets"]) and stats["pow_sum"] > 0
    assert stats["confirmation_lag_histogram"]["count"] == 12 and 0 < stats["confirmation_lag"] < 120
    from iota_edge.gateway.metrics import render
    with Outbox(path) as box:
        text = render({"outbox": box.stats(), "forwarder": stats})  # the gateway's Prometheus page reads stats()
    assert 'iota_edge_gateway_pow_seconds_bucket{le="+Inf"} 12' in text
    assert "iota_edge_gateway_reattaches_total 0" in text and "iota_edge_gateway_breaker_open 0" in text
    assert "iota_edge_gateway_node_up 1" in text and "iota_edge_gateway_confirmation_lag_seconds " in text
    with Outbox(path) as box:
        acks = box.ack_ready("dev-1")
        assert [i.seq for i in acks] == [0, 1, 2, 3]
        assert all(i.info["milestone"] >= i.info["stored_milestone"] for i in acks)


def test_node_killed_and_restarted_mid_run_nothing_lost_or_duplicated(tmp_path):
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=4, per_device=8)
    node = NodeProcess(tmp_path / "node.db", mwm=MWM, milestone_interval=0.3).start()
    try:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2) as ft:
            wait_for(lambda: ft.forwarder.stats()["stored"] >= 6, 120, "a few stored items")
            node.kill()  # mid-run: PoW in flight, items in every state
            wait_for(lambda: ft.forwarder.stats()["breaker"] in ("open", "half_open"), 30, "breaker open")
            time.sleep(1.5)  # down for a while: the breaker probes and stays open
            down = ft.forwarder.stats()
            assert down["node_up"] is False and down["breaker_opens"] >= 1
            assert down["counters"]["node_failures"] < 30, "no busy loop while the node is down"
            node.start()
            wait_for(lambda: confirmed_count(path) == 32, 180, "32 confirmed items")
            stats = ft.forwarder.stats()
        assert stats["breaker"] == "closed" and stats["breaker_half_opens"] >= 1
        check_confirmed_once_in_order(node.url, expected)  # exactly one attachment per bundle
    finally:
        node.kill()


def test_forwarder_process_state_resumes_after_restart(tmp_path):
    """A forwarder stopped with items in flight and a new one on the same outbox: nothing is attached twice."""
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=2, per_device=6)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2) as ft:
            wait_for(lambda: ft.forwarder.stats()["attached"] >= 3, 120, "3 attached items")
        with ForwarderThread(path, node.url, mwm=MWM, workers=2):
            wait_for(lambda: confirmed_count(path) == 12, 120, "12 confirmed items")
        check_confirmed_once_in_order(node.url, expected)


def test_reattach_after_n_milestones_when_withheld(tmp_path):
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=2, per_device=2)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2, reattach_milestones=2) as ft:
            wait_for(lambda: ft.forwarder.stats()["stored"] == 4, 120, "4 stored items")
            withhold(node, 1)
            time.sleep(1.0)  # the forwarder sees milestone +1: too early to reattach
            assert ft.forwarder.stats()["reattaches"] == 0
            withhold(node, 1)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 8, 120, "4 reattached and stored again")
            assert ft.forwarder.stats()["reattaches"] == 4
            node.issue_milestone()
            wait_for(lambda: confirmed_count(path) == 4, 60, "4 confirmed items")
        view = check_confirmed_once_in_order(node.url, expected, reattach_allowed=True)
    assert all(len(attachments) == 2 for attachments in view.values())  # the original and the reattachment
    with Outbox(path) as box:
        for items in expected.values():
            for _, h in items:
                item = box.get(h)
                assert item.attempts == 2 and len(item.info["tails"]) == 2


def test_device_attached_bundle_is_stored_as_is(tmp_path):
    path = str(tmp_path / "outbox.db")
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        tips = NodeClient(node.url).get_transactions_to_approve(3)
        raw = reading_bundle(7, 0)
        by_device = attach_to_tangle(raw, tips.trunk, tips.branch, MWM)
        h = bundle_hash(by_device)
        with Outbox(path) as box:
            box.put("dev-7", 0, h, raw)
            box.mark(h, "attached", trytes=by_device)  # what the service does with Up.bundle
        with ForwarderThread(path, node.url, mwm=MWM, workers=1) as ft:
            wait_for(lambda: confirmed_count(path) == 1, 60, "1 confirmed item")
            assert ft.forwarder.stats()["attached"] == 0  # no PoW of ours
        view = node_view(node.url, [h])
    from iota_edge.transaction import Transaction
    assert [a[0] for a in view[h]] == [Transaction.from_trytes(by_device[0]).hash] and view[h][0][2]


def test_refused_bundle_becomes_a_dead_letter(tmp_path):
    """A forwarder attaching below the node's MWM: every attempt is refused, then the item is dead-lettered and the
    items behind it still go through."""
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        fill_outbox(box, devices=1, per_device=2)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=1, workers=1) as ft:
            wait_for(lambda: ft.forwarder.stats()["counters"]["dead_lettered"] == 2, 60, "2 dead letters")
            assert ft.forwarder.stats()["counters"]["refused"] == 2 * MAX_REFUSALS
    with Outbox(path) as box:
        assert box.stats()["rejects"] == {"node_refused": 2} and box.stats()["backlog"] == 0


def test_pow_on_the_node(tmp_path):
    """pow = "node": the node's attachToTangle, two at a time, but one per device: the node stamps an attachment as
    its PoW ends, so a device's two in flight could be stamped out of seq order (CI saw it once)."""
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=2, per_device=3)
    item_of = {h: (d, seq) for d, items in expected.items() for seq, h in items}
    running, overlaps, lock = {}, [], threading.Lock()
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2, pow_threads=1) as node:
        ft = ForwarderThread(path, node.url, mwm=MWM, pow="node", workers=2)
        attach = ft.forwarder.node.attach_to_tangle

        def slow_attach(trunk, branch, mwm, trytes):
            device, seq = item_of[Transaction.from_trytes(trytes[0]).bundle]
            with lock:
                running[device] = running.get(device, 0) + 1
                overlaps.append(running[device])
            try:  # dev-1's first PoW is slow: the other worker would take dev-1's second meanwhile
                time.sleep(1.5 if (device, seq) == ("dev-1", 0) else 0.1)
                return attach(trunk, branch, mwm, trytes)
            finally:
                with lock:
                    running[device] -= 1

        ft.forwarder.node.attach_to_tangle = slow_attach
        with ft:
            wait_for(lambda: confirmed_count(path) == 6, 120, "6 confirmed items")
            assert ft.forwarder.stats()["attached"] == 6 and ft.forwarder.stats()["pow"] == "node"
        check_confirmed_once_in_order(node.url, expected)
    assert len(overlaps) == 6 and max(overlaps) == 1  # never two of one device in flight


def test_breaker_opens_then_half_opens_and_closes(tmp_path):
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        fill_outbox(box, devices=1, per_device=1)
    port = free_port()
    now = [0.0]
    breaker = Breaker(threshold=3, base=1.0, cap=8.0, clock=lambda: now[0])
    with Outbox(path) as box:
        fwd = Forwarder(box, "http://127.0.0.1:%d" % port, mwm=MWM, workers=1, breaker=breaker, timeout=2)
        try:
            states = []
            for _ in range(3):  # each failure backs off; nothing is called before the wait is over
                fwd.step()
                states.append(breaker.state)
                assert fwd.step() == 0 and breaker.failures == len(states)  # still waiting: no call made
                now[0] += breaker.wait()
            assert states == ["closed", "closed", "open"] and fwd.stats()["node_up"] is False
            first_wait = breaker.wait()
            now[0] += 10
            fwd.step()  # half open: the getNodeInfo probe fails, open again with a longer wait
            assert breaker.state == "open" and breaker.half_opens_total == 1 and breaker.wait() > 0
            assert breaker.opened == 2
            with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2, port=port):
                now[0] += 10
                while confirmed_count(path) == 0:
                    fwd.step()
                    time.sleep(0.05)
                assert breaker.state == "closed" and fwd.stats()["node_up"] is True
                assert breaker.half_opens_total == 2 and breaker.opens_total == 2
        finally:
            fwd.close()
    assert first_wait <= 1.0 * 2 * 1.5


def test_breaker_backoff_grows_with_jitter_and_caps():
    now = [0.0]
    b = Breaker(threshold=1, base=0.5, cap=4.0, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        assert b.allow()
        b.failure()
        waits.append(b.wait())
        now[0] += b.wait()
    assert all(w <= 4.0 * 1.5 for w in waits) and waits[0] < 2.0 and max(waits) > 3.0
    assert len(set(waits)) == len(waits)  # jittered
    b.success()
    assert b.state == "closed" and b.allow() and b.wait() == 0


def test_options_are_checked():
    for kw, field in (({"pow": "gpu"}, "pow"), ({"workers": 0}, "workers"),
                      ({"mwm": 0}, "mwm"), ({"reattach_milestones": 0}, "reattach_milestones"),
                      ({"max_depth": 0}, "max_depth"), ({"max_depth": True}, "max_depth")):
        with pytest.raises(Exception) as e:
            Forwarder("x.db", "http://127.0.0.1:1", **kw)
        assert e.value.args[-1] == field or field in str(e.value)


def test_stop_cancels_pow_and_leaves_items_received(tmp_path):
    """run() returns promptly when stopped mid-PoW at a high MWM; the items stay received for the next run."""
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        fill_outbox(box, devices=1, per_device=2)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        ft = ForwarderThread(path, node.url, mwm=40, workers=1).__enter__()
        wait_for(lambda: ft.forwarder.stats()["in_flight"] > 0, 30, "PoW in flight")
        started = time.monotonic()
        ft.join()
        assert time.monotonic() - started < 5
    with Outbox(path) as box:
        assert box.stats()["depth"]["received"] == 2
    assert threading.active_count() < 50


def test_backlog_worked_through_oldest_first_is_not_reattached(tmp_path):
    """Many stored bundles, milestones that each confirm the two oldest tips: the milestones pile up past
    reattach_milestones, but the ones not reached yet are not passed by, so nothing is attached twice."""
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=4, per_device=4)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2, reattach_milestones=1) as ft:
            wait_for(lambda: ft.forwarder.stats()["stored"] == 16, 120, "16 stored items")
            issued = 0
            while confirmed_count(path) < 16:
                with node.tangle.lock:
                    tips = node.tangle.store.unconfirmed_tips()
                    latest = node.tangle.store.latest_milestone()[1]
                if tips:
                    node.coordinator._issue_one(tips[0], tips[1] if len(tips) > 1 else latest)
                    issued += 1
                time.sleep(0.3)  # the forwarder sees about one milestone per pass
                assert issued < 60
            assert ft.forwarder.stats()["reattaches"] == 0
        check_confirmed_once_in_order(node.url, expected)
    assert issued >= 2  # more milestones than reattach_milestones went by while items waited


def test_a_device_seq_received_late_is_still_attached_first(tmp_path):
    """seq 1 reaches the outbox before seq 0 (a redelivery after a gateway crash): seq 0 is attached first."""
    path = str(tmp_path / "outbox.db")
    bundles = {seq: reading_bundle(5, seq) for seq in (0, 1, 2)}
    with Outbox(path) as box:
        for seq in (1, 2, 0):
            box.put("dev-5", seq, bundle_hash(bundles[seq]), bundles[seq])
    expected = {"dev-5": [(seq, bundle_hash(bundles[seq])) for seq in (0, 1, 2)]}
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=2):
            wait_for(lambda: confirmed_count(path) == 3, 60, "3 confirmed items")
        check_confirmed_once_in_order(node.url, expected)


class AheadClock:
    """The wall clock moved ``ahead`` seconds (the forwarder's clock; the node takes attachment timestamps up to two
    hours ahead), so a test sees an order hold run out without waiting for it."""

    def __init__(self):
        self.ahead = 0.0

    def __call__(self):
        return time.time() + self.ahead


class Events:
    """A logger with the gateway EventLog's ``event(level, name, **fields)``."""

    def __init__(self):
        self.events = []

    def event(self, level, name, **fields):
        self.events.append((level, name, fields))

    def named(self, name):
        return [fields for _, n, fields in self.events if n == name]


def put(path, device, seq, size=100, **kw):
    """One single-transaction reading bundle into the outbox; returns (seq, bundle hash)."""
    trytes = reading_bundle(int(device.split("-")[1]), seq, size)
    with Outbox(path) as box:
        assert box.put(device, seq, bundle_hash(trytes), trytes, **kw)
    return seq, bundle_hash(trytes)


def state_of(path, h):
    with Outbox(path) as box:
        item = box.get(h)
    return None if item is None else item.state


def test_a_gap_holds_later_seqs_until_the_late_seq_fills_it_and_other_devices_flow(tmp_path):
    """dev-1's seq 2 is missing: its seqs 3..80 wait, filling the whole window of received items, while dev-2,
    received after them, goes through; seq 2 arriving late releases 2..80, attached in seq order."""
    path = str(tmp_path / "outbox.db")
    expected = {"dev-1": [put(path, "dev-1", s) for s in (0, 1)]}
    expected["dev-1"] += [put(path, "dev-1", s) for s in range(3, 81)]  # more than SEQ_WINDOW
    expected["dev-2"] = [put(path, "dev-2", s) for s in range(4)]
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        ft = ForwarderThread(path, node.url, mwm=MWM, workers=2, order_hold_s=45)
        passes = [0]
        step = ft.forwarder.step

        def counted():
            passes[0] += 1
            return step()

        ft.forwarder.step = counted
        with ft:
            wait_for(lambda: confirmed_count(path) == 6, 120, "dev-1 seqs 0-1 and dev-2 confirmed")
            before = passes[0]
            time.sleep(2.0)  # held: the forwarder waits on its event between passes instead of spinning
            assert passes[0] - before < 40, passes[0] - before
            assert ft.forwarder.stats()["order_held"] == 1
            assert all(state_of(path, h) == "received" for _, h in expected["dev-1"][2:])
            expected["dev-1"].insert(2, put(path, "dev-1", 2))  # the resend that reaches the gateway late
            wait_for(lambda: confirmed_count(path) == 85, 180, "85 confirmed items")
            stats = ft.forwarder.stats()
        check_confirmed_once_in_order(node.url, expected)
    assert stats["order_gaps_skipped"] == 0 and stats["order_held"] == 0
    with Outbox(path) as box:
        assert box.released() == {"dev-1": 80, "dev-2": 3}


def test_a_hold_that_runs_out_lets_the_later_seq_go_logged_and_counted(tmp_path):
    """A power cut on a device leaves seqs it reserved unused for good: the wait ends after order_hold_s."""
    path = str(tmp_path / "outbox.db")
    put(path, "dev-1", 0)
    clock, log = AheadClock(), Events()
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, order_hold_s=45, clock=clock, logger=log) as ft:
            wait_for(lambda: confirmed_count(path) == 1, 60, "seq 0 confirmed")
            _, h2 = put(path, "dev-1", 2)
            time.sleep(1.0)
            assert state_of(path, h2) == "received" and ft.forwarder.stats()["order_held"] == 1
            clock.ahead = 40.0  # about 42 s after seq 2 was received
            time.sleep(1.0)
            assert state_of(path, h2) == "received"
            clock.ahead = 46.0  # about 48 s
            wait_for(lambda: confirmed_count(path) == 2, 60, "seq 2 confirmed")
            _, h1 = put(path, "dev-1", 1)  # too late: below what was released, it goes at once
            wait_for(lambda: confirmed_count(path) == 3, 60, "seq 1 confirmed")
            stats = ft.forwarder.stats()
    assert stats["order_gaps_skipped"] == stats["counters"]["order_gaps_skipped"] == 1
    [event] = log.named("order_gap_skipped")
    assert (event["device"], event["seq"], event["expected"], event["order_hold_s"]) == ("dev-1", 2, 1, 45.0)
    assert 45 <= event["waited"] < 60
    from iota_edge.gateway.metrics import render
    text = render({"forwarder": stats})
    assert "# TYPE iota_edge_gateway_order_gaps_skipped_total counter" in text
    assert "iota_edge_gateway_order_gaps_skipped_total 1" in text and "iota_edge_gateway_forwarder_order_held 0" in text


def test_the_hold_survives_restarts_and_counts_from_received_at(tmp_path):
    """seq 0 attached, confirmed, acknowledged and pruned; the outbox and forwarder closed; seq 2 then waits in a
    new forwarder (the released seq is persisted, pruning kept it), and in the next one it goes when 45 s have
    passed since seq 2 was received, not 45 s after that forwarder started."""
    path = str(tmp_path / "outbox.db")
    put(path, "dev-1", 0)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=1):
            wait_for(lambda: confirmed_count(path) == 1, 60, "seq 0 confirmed")
        with Outbox(path) as box:
            assert box.mark_acked("dev-1", [0]) == 1 and box.prune() == 1
        _, h2 = put(path, "dev-1", 2)
        clock = AheadClock()
        clock.ahead = 40.0
        for _ in range(2):  # two runs of 40 s and more after seq 2 was received: it still waits
            with ForwarderThread(path, node.url, mwm=MWM, workers=1, order_hold_s=45, clock=clock) as ft:
                time.sleep(1.0)
                assert ft.forwarder.stats()["order_held"] == 1
            assert state_of(path, h2) == "received"
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, order_hold_s=45, clock=clock) as ft:
            time.sleep(0.5)
            assert state_of(path, h2) == "received"
            clock.ahead = 46.0
            wait_for(lambda: state_of(path, h2) in ("stored", "confirmed"), 10, "seq 2 attached and stored")
            assert ft.forwarder.stats()["order_gaps_skipped"] == 1


def test_order_hold_zero_holds_nothing_and_options_are_checked(tmp_path):
    path = str(tmp_path / "outbox.db")
    put(path, "dev-1", 0)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, order_hold_s=0):
            wait_for(lambda: confirmed_count(path) == 1, 60, "seq 0 confirmed")
            put(path, "dev-1", 5)
            wait_for(lambda: confirmed_count(path) == 2, 60, "seq 5 confirmed at once")
    for bad in (-1, "45", True, float("nan"), float("inf")):
        with pytest.raises(InvalidValue) as e:
            Forwarder("x.db", "http://127.0.0.1:1", order_hold_s=bad)
        assert e.value.field == "order_hold_s" and str(e.value).startswith("order_hold_s: expected")


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_pow_threads_follow_the_cpus_the_gateway_may_use(tmp_path):
    """A gateway pinned to one CPU (taskset, a container's cpuset) must not run two nonce searchers taking turns on
    it: workers and threads per search come from the affinity, not from the machine's CPU count."""
    import os

    from iota_edge import pow as pow_mod

    out = {}

    def pinned():
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})  # this thread only
        fwd = Forwarder(str(tmp_path / "outbox.db"), "http://127.0.0.1:1")
        out.update(usable=pow_mod.usable_cpus(), workers=fwd.workers, threads=fwd.pow_threads,
                   default=pow_mod._check_threads(None))

    t = threading.Thread(target=pinned)
    t.start()
    t.join()
    assert out == {"usable": 1, "workers": 1, "threads": 1, "default": 1}
    assert pow_mod.usable_cpus() == len(os.sched_getaffinity(0))


def test_bundles_approve_our_stored_tails_so_tips_do_not_pile_up(tmp_path, monkeypatch):
    """Each bundle approves one tail of ours that an earlier pass stored (and a tip of one getTransactionsToApprove
    pair per pass): the node is asked far less than once per bundle, our tails stop being tips at the next pass, and
    everything still confirms once, in order. (Passes of 8 here, so 60 bundles make several.)"""
    from iota_edge.gateway import forwarder as forwarder_mod

    monkeypatch.setattr(forwarder_mod, "IN_FLIGHT", 16)
    monkeypatch.setattr(forwarder_mod, "HARVEST", 8)
    path = str(tmp_path / "outbox.db")
    with Outbox(path) as box:
        expected = fill_outbox(box, devices=4, per_device=15, size=100)  # 60 one-transaction bundles
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        ft = ForwarderThread(path, node.url, mwm=MWM, workers=1)
        asked = []
        real = ft.forwarder.node.get_transactions_to_approve
        ft.forwarder.node.get_transactions_to_approve = lambda depth: asked.append(depth) or real(depth)
        with ft:
            wait_for(lambda: confirmed_count(path) == 60, 180, "60 confirmed items")
        view = check_confirmed_once_in_order(node.url, expected)
        client = NodeClient(node.url)
        ours = {}
        for h in view:
            for trytes in client.get_trytes(client.find_transactions(bundles=[h])):
                tx = Transaction.from_trytes(trytes)
                ours[tx.hash] = tx
        parents = {tx.trunk for tx in ours.values()} | {tx.branch for tx in ours.values()}
        approved = sum(1 for tx in ours.values() if tx.hash in parents)
        tips = client.get_node_info()["tips"]
    assert approved >= 60 - 16, approved  # each bundle after the first pass's approves a tail of ours
    assert len(asked) <= 16 + 10, len(asked)  # the first pass's bundles once each (no tail of ours yet), then
    # once per pass: against one call per bundle (60) before
    assert tips <= 16 + 8, tips  # the last pass's bundles and the node's milestones (60 without this)


def test_notify_wakes_an_idle_forwarder_at_once(tmp_path, monkeypatch):
    """An idle forwarder waits POLL_S between looks at the outbox; the gateway's ingestion calls notify() after a
    put, so a reading's PoW starts at once (here POLL_S is a minute: without the wake nothing would move)."""
    from iota_edge.gateway import forwarder as forwarder_mod

    monkeypatch.setattr(forwarder_mod, "POLL_S", 60.0)
    path = str(tmp_path / "outbox.db")
    Outbox(path).close()
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        with ForwarderThread(path, node.url, mwm=MWM, workers=1) as ft:
            time.sleep(0.5)  # its first pass found nothing: it waits now
            with Outbox(path) as box:
                trytes = reading_bundle(0, 0)
                box.put("dev-0", 0, bundle_hash(trytes), trytes)
            ft.forwarder.notify()
            wait_for(lambda: ft.forwarder.counters["stored"] == 1, 30, "the reading stored")  # raises after 30 s
            ft.stop.set()
            ft.forwarder._wake.set()  # its wait would otherwise last the minute


def test_offered_trytes_are_attached_without_reading_them_back_and_an_item_gone_meanwhile_is_skipped(tmp_path):
    """offer() hands the PoW the trytes the ingestion has just put: the forwarder does not read them back
    from the outbox, stores the same bundle the outbox holds, and an offered item rejected while its PoW runs (a
    ``drop_oldest`` eviction or a dead letter) is attached for nothing but neither stored nor counted."""
    path = str(tmp_path / "outbox.db")
    kept, gone, unoffered = reading_bundle(0, 0), reading_bundle(1, 0), reading_bundle(2, 0)
    with Outbox(path) as box:
        for device, trytes in (("dev-0", kept), ("dev-1", gone), ("dev-2", unoffered)):
            box.put(device, 0, bundle_hash(trytes), trytes)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0.2) as node:
        fwd = Forwarder(path, node.url, mwm=MWM, workers=1)
        read_back = []
        try:
            fwd.offer([(bundle_hash(kept), kept), (bundle_hash(gone), gone)])
            fwd.outbox = Outbox(path)
            get_many = fwd.outbox.get_many
            fwd.outbox.get_many = lambda hashes: read_back.extend(hashes) or get_many(hashes)
            fwd.step()  # the three go to PoW: two from the offer, one read back
            assert fwd.stats()["in_flight"] + fwd.counters["attached"] == 3
            fwd.outbox.reject("dev-1", 0, "test")  # gone from the queue while its PoW runs
            deadline = time.monotonic() + 60
            while fwd.counters["stored"] < 2 and time.monotonic() < deadline:
                fwd.step()
                time.sleep(0.05)
        finally:
            fwd.close()
            if fwd.outbox is not None:
                fwd.outbox.close()
        assert fwd.counters["stored"] == 2 and fwd.counters["attached"] == 2
        assert read_back == [bundle_hash(unoffered)]  # only the one not offered was read for its PoW
        view = node_view(node.url, [bundle_hash(kept), bundle_hash(gone), bundle_hash(unoffered)])
    assert view[bundle_hash(kept)] and view[bundle_hash(unoffered)] and not view[bundle_hash(gone)]


def test_a_bundle_carried_only_by_someone_elses_stuck_transaction_is_reattached_at_max_depth(tmp_path):
    """Someone else's bundle approves our stored tail and never confirms (milestones here approve only the previous
    one): our bundle is carried, so the passed-by count leaves it alone, but once its attachment is max_depth
    milestones old it is reattached (as the official wallets reattach what is no longer promotable), and a milestone
    that approves the reattachment confirms it; its old attachment stays unconfirmed."""
    from iota_edge.bundle import prepare_transfer
    from iota_edge.client import TransactionsToApprove

    path = str(tmp_path / "outbox.db")
    first = reading_bundle(0, 0)
    h1 = bundle_hash(first)

    def item(h):
        with Outbox(path) as box:
            return box.get(h)

    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        client = NodeClient(node.url)
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, reattach_milestones=2, max_depth=4) as ft:
            with Outbox(path) as box:
                box.put("dev-0", 0, h1, first)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 1, 60, "stored")
            tail = item(h1).info["tails"][0]
            stored_at = item(h1).info["stored_milestone"]
            # someone else's transaction approves our tail (a stranger on the network, not in our outbox)
            theirs = prepare_transfer(None, [{"address": "THEIRS".ljust(81, "9"), "message": b"hello", "tag": "X"}])
            client.store_transactions(attach_to_tangle(theirs, tail, tail, MWM))
            ft.forwarder.node.get_transactions_to_approve = lambda depth=3: TransactionsToApprove(
                node.tangle.latest_milestone()[1], node.tangle.latest_milestone()[1])
            for k in range(1, 8):  # milestones that approve neither ours nor theirs
                withhold(node, 1)
                time.sleep(0.6)  # the forwarder's next poll sees each one (POLL_S 0.25)
                if len(item(h1).info["tails"]) > 1 or item(h1).state != "stored":
                    break
                assert node.tangle.latest_milestone()[0] - stored_at < 4 + 2  # not reattached before max_depth
            wait_for(lambda: len(item(h1).info["tails"]) == 2 and item(h1).state == "stored", 60,
                     "reattached at max_depth and stored again")
            assert ft.forwarder.stats()["reattaches"] == 1
            assert item(h1).info["reattach_from"] - stored_at >= 4  # not before its attachment was max_depth old
            new = item(h1).info["tails"][-1]
            node.coordinator._issue_one(new, new)
            wait_for(lambda: confirmed_count(path) == 1, 60, "confirmed")
        view = node_view(node.url, [h1])
    assert [a[2] for a in view[h1] if a[0] == tail] == [False] and any(a[2] for a in view[h1])


@pytest.mark.parametrize("reattach_milestones", [3, 100])
def test_an_idle_spell_does_not_count_against_the_next_item(tmp_path, reattach_milestones):
    """An idle forwarder polls no milestone. The milestones of an idle spell must not count against the next item:
    neither as passing it by (3: a review found it reattached at its first check) nor in its max_depth age, counted
    from its stored_milestone (100: reattached after one milestone while that was the milestone polled before the
    spell). A store after an idle spell takes the node's current milestone first."""
    from iota_edge.bundle import prepare_transfer

    path = str(tmp_path / "outbox.db")
    a, b = reading_bundle(0, 0), reading_bundle(0, 1)
    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        client = NodeClient(node.url)
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, reattach_milestones=reattach_milestones,
                             max_depth=15) as ft:
            with Outbox(path) as box:
                box.put("dev-0", 0, bundle_hash(a), a)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 1, 60, "the first stored")
            node.issue_milestone()
            wait_for(lambda: ft.forwarder.stats()["confirmed"] == 1, 60, "the first confirmed")
            time.sleep(0.6)  # nothing waits: the forwarder stops polling
            withhold(node, 20)
            with Outbox(path) as box:
                box.put("dev-0", 1, bundle_hash(b), b)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 2, 60, "the second stored")
            with Outbox(path) as box:
                tail = box.get(bundle_hash(b)).info["tails"][0]
            theirs = prepare_transfer(None, [{"address": "THEIRS".ljust(81, "9"), "message": b"hi", "tag": "X"}])
            client.store_transactions(attach_to_tangle(theirs, tail, tail, MWM))
            for _ in range(3):
                withhold(node, 1)
                time.sleep(0.6)
            assert ft.forwarder.stats()["reattaches"] == 0


def test_a_bundle_approved_only_by_our_stuck_next_bundle_is_reattached_too(tmp_path):
    """Our next bundle approves our last stored tail. When that next bundle never confirms (a lazy tip: a
    coordinator that walks from other tips, here milestones that approve only the previous one), it is reattached,
    and from then on the bundle it approved counts milestones again and is reattached in turn, instead of waiting on
    the abandoned attachment for good; no reattachment approves the stuck attachments."""
    from iota_edge.client import TransactionsToApprove

    path = str(tmp_path / "outbox.db")
    first, second = reading_bundle(0, 0), reading_bundle(0, 1)
    h1, h2 = bundle_hash(first), bundle_hash(second)

    def item(h):
        with Outbox(path) as box:
            return box.get(h)

    with Node(db=str(tmp_path / "node.db"), mwm=MWM, milestone_interval=0) as node:
        client = NodeClient(node.url)
        with ForwarderThread(path, node.url, mwm=MWM, workers=1, reattach_milestones=2) as ft:
            with Outbox(path) as box:
                box.put("dev-0", 0, h1, first)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 1, 60, "the first stored")
            with Outbox(path) as box:
                box.put("dev-0", 1, h2, second)
            wait_for(lambda: ft.forwarder.stats()["stored"] == 2, 60, "the second stored")
            old = [item(h1).info["tails"][0], item(h2).info["tails"][0]]
            seconds = client.get_trytes(client.find_transactions(bundles=[h2]))
            assert any(old[0] in (tx.trunk, tx.branch) for tx in map(Transaction.from_trytes, seconds))  # approves
            # From now on the node's tip selection offers the latest milestone only: an old tail approved below came
            # from the forwarder's own choice of parents.
            ft.forwarder.node.get_transactions_to_approve = lambda depth=3: TransactionsToApprove(
                node.tangle.latest_milestone()[1], node.tangle.latest_milestone()[1])
            withhold(node, 1)
            time.sleep(1.0)
            withhold(node, 1)
            wait_for(lambda: len(item(h2).info["tails"]) == 2 and item(h2).state == "stored", 60,
                     "the second reattached and stored again")
            assert len(item(h1).info["tails"]) == 1  # approved by the second's attachment, which still counted
            withhold(node, 1)
            time.sleep(1.0)
            withhold(node, 1)
            wait_for(lambda: len(item(h1).info["tails"]) == 2 and item(h1).state == "stored", 60,
                     "the first reattached once the second's attachment was given up")
            wait_for(lambda: ft.forwarder.stats()["in_flight"] == 0 and item(h2).state == "stored", 60, "settled")
            new = [item(h1).info["tails"][-1], item(h2).info["tails"][-1]]
            for h in new:  # each reattachment approves neither of the stuck attachments
                tail_tx = Transaction.from_trytes(client.get_trytes([h])[0])
                txs = [Transaction.from_trytes(t) for t in client.get_trytes(
                    client.find_transactions(bundles=[tail_tx.bundle]))]
                attachment = [t for t in txs if t.attachment_timestamp == tail_tx.attachment_timestamp]
                assert len(attachment) == len(first) and not any(t.trunk in old or t.branch in old for t in attachment)
            node.coordinator._issue_one(new[0], new[1])  # a milestone that approves only the reattachments
            wait_for(lambda: confirmed_count(path) == 2, 60, "both confirmed")
        view = node_view(node.url, [h1, h2])
    for h in (h1, h2):
        assert len(view[h]) >= 2 and [a[2] for a in view[h] if a[0] in old] == [False]
