"""Runs inside the side venv that holds PyOTA's C extensions from PyPI (pyota-pow's libccurl, pyota-ccurl's Curl).

    python _timing_pyota_pow.py JOB.json      # prints one JSON line

JOB: {"pow": {"9": [trytes, ...], "14": [...]}, "hash": [trytes, ...]}. Only the standard library is imported
besides the two extensions; libccurl is loaded with ctypes the way pyota-pow's ccurl_interface does.
"""
import ctypes
import json
import os
import sys
import time

ALPHABET = "9ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def trits(trytes):
    out = []
    for c in trytes:
        v = ALPHABET.index(c)
        v = v if v <= 13 else v - 27
        for _ in range(3):
            d = v % 3
            if d == 2:
                d = -1
            out.append(d)
            v = (v - d) // 3
    return out


def main(path):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]  # iota_edge/bench/pow.py is not pow
    with open(path) as f:
        job = json.load(f)
    result = {"pow": {}, "nonces": {}}
    import pow as pyota_pow  # pyota-pow

    lib = ctypes.CDLL(os.path.join(os.path.dirname(pyota_pow.__file__), "libccurl.so"))
    lib.ccurl_pow.restype = ctypes.c_char_p
    lib.ccurl_pow.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for mwm, txs in job["pow"].items():
        times, nonces = [], []
        for tx in txs:
            t = time.perf_counter()
            out = lib.ccurl_pow(tx.encode("ascii"), int(mwm))
            times.append(time.perf_counter() - t)
            nonces.append(out.decode("ascii")[2646:2673])
        result["pow"][mwm] = times
        result["nonces"][mwm] = nonces
    import ccurl  # pyota-ccurl

    inputs = [trits(tx) for tx in job["hash"]]
    out = [0] * 243
    t = time.perf_counter()
    for tr in inputs:
        c = ccurl.Curl()
        c.absorb(tr)
        c.squeeze(out)
    result["ccurl_hash_s"] = (time.perf_counter() - t) / len(inputs)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
