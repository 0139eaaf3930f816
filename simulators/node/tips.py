"""Tip selection for getTransactionsToApprove: a random choice among the non-lazy unconfirmed tips.

    trunk, branch = select_tips(store, depth=3, reference=None, rng=random.Random())

A tip is a tail no visible transaction approves. It is a candidate while unconfirmed and while everything its bundle
approves was confirmed no earlier than ``depth`` milestones ago (``root_ms`` >= latest - depth), IRI's
"below max depth" rule. With no candidate the latest milestone is returned for both (the null hash before the first
milestone). With ``reference`` the branch is that tail, and the trunk a candidate tip.
"""

from simulators.node.errors import Refused
from simulators.node.validation import NULL_HASH

REFERENCE_NOT_FOUND = "reference transaction not found"  # IRI API.REFERENCE_TRANSACTION_NOT_FOUND
REFERENCE_TOO_OLD = "reference transaction is too old"  # IRI API.REFERENCE_TRANSACTION_TOO_OLD


def select_tips(store, depth, reference, rng):
    latest, milestone = store.latest_milestone()
    floor = latest - depth
    count = store.candidate_count(floor)
    fallback = milestone or NULL_HASH
    if reference is not None:
        row = store.row(reference)
        if row is None:
            raise Refused(REFERENCE_NOT_FOUND)
        current_index, confirmed_by, root = row
        if current_index != 0:
            raise Refused("reference transaction is not a tail")
        if (confirmed_by if confirmed_by is not None else root) < floor:
            raise Refused(REFERENCE_TOO_OLD)
        return (store.candidate_at(floor, rng.randrange(count)) if count else fallback), reference
    if not count:
        return fallback, fallback
    if count == 1:
        tip = store.candidate_at(floor, 0)
        return tip, tip
    first, second = rng.sample(range(count), 2)
    return store.candidate_at(floor, first), store.candidate_at(floor, second)
