"""Helpers shared by the portable tests (CPython and MicroPython): vector loading, sampling, raises()."""
import json
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
VECTORS = _HERE + "/../vectors/"


def vectors(name):
    """Cases of tests/vectors/<name>.json (each file records its source)."""
    with open(VECTORS + name + ".json") as f:
        data = json.load(f)
    assert data["source"], name
    return data["cases"]


def sample(cases, micropython_every=1):
    """All cases on CPython; every n-th case on MicroPython, where the pure Keccak makes some checks slow."""
    if IS_MICROPYTHON and micropython_every > 1:
        return cases[::micropython_every]
    return cases


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raises, failing if it raises nothing or something else."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %s" % (exc_type.__name__, getattr(fn, "__name__", fn)))
