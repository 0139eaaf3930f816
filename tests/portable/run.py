"""Runs tests/portable on any Python, MicroPython included: ``micropython tests/portable/run.py [module ...]``.

Collects ``test_*`` functions from the ``test_*.py`` modules here, runs each, and ends with the line
``N passed, N failed``; the exit status is 1 if anything failed or nothing ran. pytest collects the same modules.
"""
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _HERE)
sys.path.insert(0, _HERE + "/../..")

MODULES = (
    "test_trinary", "test_curl_kerl", "test_signing", "test_transaction", "test_bundle", "test_wire", "test_streams",
    "test_framing", "test_sensors", "test_nonces",
)


def main(names):
    passed = failed = 0
    for name in names or MODULES:
        module = __import__(name)
        for attr in sorted(dir(module)):
            fn = getattr(module, attr)
            if not attr.startswith("test_") or not callable(fn):
                continue
            try:
                fn()
                passed += 1
                print("PASS", name, attr)
            except Exception as e:  # report and carry on: one line per failure
                failed += 1
                print("FAIL", name, attr, type(e).__name__, e)
                if hasattr(sys, "print_exception"):
                    sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
