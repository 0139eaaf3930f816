"""Times PyOTA 2.1.0 on the same operations as _timing_ours.py; prints one JSON object. Run with PyOTA's python."""
import json
import sys
import time

from iota.crypto import Curl
from iota.crypto.addresses import AddressGenerator
from iota.crypto.kerl import Kerl
from iota.crypto.signing import KeyGenerator, SignatureFragmentGenerator, validate_signature_fragments
from iota.crypto.types import Seed
from iota.trits import trits_from_int  # noqa: F401  (import check: PyOTA 2.1.0 layout)
from iota.types import Hash, TryteString

SEED = "BENCHMARK9SEED9DONT9USE" + "9" * 58
TX = ("BENCH" * 600)[:2187] + "A" * 486
HASH = "ANBISAKXABBZARIKIBQOSKJXETKPGJSGGTXVFIIZQJVIR9UOHUYGDGEBHLFDEZQYZSBJLVFEANFLYCVIX"  # secure: no 13


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def curl_tx():
    c = Curl()
    c.absorb(TryteString(TX).as_trits())
    out = [0] * 243
    c.squeeze(out)


def kerl_81():
    k = Kerl()
    k.absorb(TryteString(TX[:81]).as_trits())
    out = [0] * 243
    k.squeeze(out)


def address():
    AddressGenerator(Seed(SEED), security_level=2, checksum=False).get_addresses(7, 1)


def sign():
    key = KeyGenerator(Seed(SEED)).get_key(5, 2)
    gen = SignatureFragmentGenerator(key, Hash(HASH))
    return [next(gen) for _ in range(2)]


FRAGMENTS = None


def verify():
    validate_signature_fragments(FRAGMENTS, Hash(HASH), ADDRESS)


def main():
    global FRAGMENTS, ADDRESS
    repeat = int(sys.argv[1])
    FRAGMENTS = sign()
    ADDRESS = AddressGenerator(Seed(SEED), security_level=2, checksum=False).get_addresses(5, 1)[0]
    assert validate_signature_fragments(FRAGMENTS, Hash(HASH), ADDRESS)
    out = {
        "curl_p81_transaction": best(curl_tx, repeat),
        "kerl_81": best(kerl_81, repeat),
        "address_security_2": best(address, repeat),
        "sign_security_2": best(sign, repeat),
        "verify_security_2": best(verify, repeat),
    }
    print(json.dumps(out))


main()
