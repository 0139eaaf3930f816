"""Times the core's operations in this interpreter (CPython or MicroPython); prints one JSON object.

Run by iota_edge.bench.core as ``python _timing_ours.py ROOT REPEAT`` or ``micropython _timing_ours.py ROOT REPEAT``.
"""
import json
import sys

sys.path.insert(0, sys.argv[1])

from iota_edge import _native  # noqa: E402
from iota_edge.curl import curl_hash  # noqa: E402
from iota_edge.kerl import kerl_hash  # noqa: E402
from iota_edge.signing import generate_address, sign, verify_signature  # noqa: E402

try:
    from time import perf_counter

    def now():
        return perf_counter()

except ImportError:
    from time import ticks_diff, ticks_us

    _t0 = ticks_us()

    def now():
        return ticks_diff(ticks_us(), _t0) / 1e6


SEED = "BENCHMARK9SEED9DONT9USE" + "9" * 58
TX = ("BENCH" * 600)[:2187] + "A" * 486
HASH = "ANBISAKXABBZARIKIBQOSKJXETKPGJSGGTXVFIIZQJVIR9UOHUYGDGEBHLFDEZQYZSBJLVFEANFLYCVIX"  # secure: no 13


def best(fn, repeat):
    fn()  # warm-up (and first-call imports)
    times = []
    for _ in range(repeat):
        t = now()
        fn()
        times.append(now() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    repeat = int(sys.argv[2])
    fragments = sign(SEED, 5, 2, HASH)
    address = generate_address(SEED, 5, 2)
    ops = {
        "curl_p81_transaction": lambda: curl_hash(TX, 81),
        "kerl_81": lambda: kerl_hash(TX[:81], 81),
        "address_security_2": lambda: generate_address(SEED, 7, 2),
        "sign_security_2": lambda: sign(SEED, 5, 2, HASH),
        "verify_security_2": lambda: verify_signature(address, fragments, HASH),
    }
    out = {"backend": _native.BACKEND, "implementation": sys.implementation.name}
    for name, fn in ops.items():
        out[name] = best(fn, repeat)
    print(json.dumps(out))


main()
