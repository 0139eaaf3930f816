"""Prints the core's answers on inputs from a fixed generator; CPython and MicroPython must print the same lines.

    python3 tests/portable/fingerprint.py > a; micropython tests/portable/fingerprint.py > b; diff a b
"""
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _HERE + "/../..")

from iota_edge.bundle import prepare_transfer  # noqa: E402
from iota_edge.curl import curl_hash  # noqa: E402
from iota_edge.kerl import kerl_hash  # noqa: E402
from iota_edge.signing import generate_address, normalize, sign  # noqa: E402
from iota_edge.transaction import Transaction  # noqa: E402
from iota_edge.trinary import ALPHABET, bytes_to_trytes, int_to_trytes, trytes_to_int  # noqa: E402

_state = [12345]


def rand(n):
    _state[0] = (_state[0] * 1103515245 + 12345) % 2147483648
    return _state[0] % n


def rand_trytes(n):
    return "".join([ALPHABET[rand(27)] for _ in range(n)])


def main():
    for i in range(6):
        t = rand_trytes(81 * (1 + rand(3)))
        print("curl81", curl_hash(t, 81))
        print("curl27", curl_hash(t, 27))
        print("kerl", kerl_hash(t, 162))
        n = rand(3**20) - 3**19
        print("int", int_to_trytes(n, 27), trytes_to_int(int_to_trytes(n, 27)) == n)
        print("bytes", bytes_to_trytes(bytes([rand(256) for _ in range(20)])))
        print("norm", normalize(rand_trytes(81)))
    seed = rand_trytes(81)
    print("address", generate_address(seed, rand(1000), 1, checksum=True))
    h = "9" * 81
    print("sign", sign(seed, 3, 1, h)[0][:243])
    tx = Transaction(address=rand_trytes(81), value=rand(10**9) - 5 * 10**8, tag="FP", timestamp=1700000000)
    print("tx", tx.hash)
    trytes = prepare_transfer(None, [{"address": rand_trytes(81), "message": b"fingerprint" * 300, "tag": "FP"}],
                              timestamp=1700000000)
    print("bundle", [Transaction.from_trytes(t).bundle for t in trytes])


main()
