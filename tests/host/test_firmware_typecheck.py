"""The device code type-checks against the MicroPython board stubs from PyPI (esp32 and rp2), so it only imports and
calls what those ports have. pyright (pinned in tests/typecheck/package-lock.json) checks firmware/boot.py, main.py,
app/ and the portable core modules firmware/manifest.py freezes, with each port's stubs as its standard library
(tests/typecheck/pyrightconfig.<port>.json; the stubs are installed into .typecheck/<port> by tests/typecheck/setup.sh).

The rules are the ones that say "the port has no such thing": unresolved imports, unknown module or class attributes
(``machine.Pin.IRQ_NOPE``), undefined names and calls that match no signature. CPython-only branches are written
``if _MICROPYTHON: ... else: ...`` and the configs define ``_MICROPYTHON`` as True, so the check reads the branch a
board runs. Under CI=true a missing pyright or stubs folder fails; locally it skips and says how to install them.
"""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "typecheck")
PYRIGHT = os.path.join(HERE, "node_modules", ".bin", "pyright")
PORTS = ("esp32", "rp2")


def _need(what):
    how = "bash tests/typecheck/setup.sh (tests/setup.sh runs it)"
    if os.environ.get("CI") == "true":
        pytest.fail("%s is required in CI: %s" % (what, how))
    pytest.skip("%s not installed (%s)" % (what, how))


def _config(port):
    with open(os.path.join(HERE, "pyrightconfig.%s.json" % port)) as f:
        return json.load(f)


def _pyright(config_path):
    """pyright's diagnostics for a config: [(file, line, rule, message)] of severity error."""
    if not os.access(PYRIGHT, os.X_OK):
        _need("pyright (tests/typecheck/node_modules)")
    if not os.path.isdir(os.path.join(ROOT, ".typecheck", "esp32")) or not os.path.isdir(
            os.path.join(ROOT, ".typecheck", "rp2")):
        _need("the MicroPython board stubs (.typecheck/esp32, .typecheck/rp2)")
    p = subprocess.run([PYRIGHT, "--outputjson", "-p", config_path], capture_output=True, text=True, timeout=300)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("pyright did not run: rc %d\n%s\n%s" % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    assert out["summary"]["filesAnalyzed"] > 0, out["summary"]
    return [(d["file"], d["range"]["start"]["line"] + 1, d.get("rule", ""), d["message"])
            for d in out["generalDiagnostics"] if d["severity"] == "error"], out["summary"]


def _manifest_files():
    """The files firmware/manifest.py freezes, as paths relative to the repository root."""
    files = []

    def package(name, files=(), base_path=".", opt=None):
        base = os.path.normpath(os.path.join(ROOT, "firmware", base_path, name))
        out.extend(os.path.relpath(os.path.join(base, f), ROOT) for f in files)

    out = files
    with open(os.path.join(ROOT, "firmware", "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), {"include": lambda path: None, "package": package})
    return sorted(files)


@pytest.mark.parametrize("port", PORTS)
def test_the_configs_check_what_the_manifest_freezes(port):
    checked = set()
    for inc in _config(port)["include"]:
        path = os.path.normpath(os.path.join(HERE, inc))
        if os.path.isdir(path):
            checked.update(os.path.relpath(os.path.join(path, f), ROOT) for f in os.listdir(path) if f.endswith(".py"))
        else:
            checked.add(os.path.relpath(path, ROOT))
    missing = [f for f in _manifest_files() + ["firmware/boot.py", "firmware/main.py"] if f not in checked]
    assert not missing, "frozen or board files the type check does not cover: %s" % missing


@pytest.mark.parametrize("port", PORTS)
def test_device_code_type_checks_against_the_board_stubs(port):
    errors, summary = _pyright(os.path.join(HERE, "pyrightconfig.%s.json" % port))
    assert summary["filesAnalyzed"] >= 25, summary
    assert not errors, "\n".join("%s:%d: %s (%s)" % e for e in errors)


def _check_snippet(tmp_path, port, code):
    """Errors of ``code`` checked as one more file under the port's config (same stubs, same rules)."""
    cfg = _config(port)
    for key in ("typeshedPath", "stubPath"):
        cfg[key] = os.path.normpath(os.path.join(HERE, cfg[key]))
    cfg["extraPaths"] = [os.path.normpath(os.path.join(HERE, p)) for p in cfg["extraPaths"]]
    cfg["include"] = ["snippet.py"]
    (tmp_path / "snippet.py").write_text(code)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(cfg))
    errors, _ = _pyright(str(tmp_path / "pyrightconfig.json"))
    return errors


BAD = {
    "esp32": ("import machine\nmachine.Pin(2).irq(trigger=machine.Pin.IRQ_NOPE)\n"
              "import rp2\n"                                                    # the RP2040's PIO: not on ESP32
              "import time\nt = time.monotonic()\n",                            # CPython's, not MicroPython's
              [("reportAttributeAccessIssue", "IRQ_NOPE"), ("reportMissingImports", "rp2"),
               ("reportAttributeAccessIssue", "monotonic")]),
    "rp2": ("import machine\nmachine.Pin(2).irq(trigger=machine.Pin.IRQ_NOPE)\n"
            "import esp32\n"                                                    # ESP32-only module
            "import os\nos.environ.get('X')\n",
            [("reportAttributeAccessIssue", "IRQ_NOPE"), ("reportMissingImports", "esp32"),
             ("reportAttributeAccessIssue", "environ")]),
}
GOOD = {
    "esp32": "import machine, esp32\nmachine.Pin(2, machine.Pin.IN, machine.Pin.PULL_UP).irq("
             "trigger=machine.Pin.IRQ_FALLING, handler=lambda p: None)\nesp32.raw_temperature()\n",
    "rp2": "import machine, rp2\nmachine.Pin(2, machine.Pin.IN, machine.Pin.PULL_UP).irq("
           "trigger=machine.Pin.IRQ_FALLING, handler=lambda p: None)\nrp2.PIO(0)\n",
}


@pytest.mark.parametrize("port", PORTS)
def test_the_check_bites_on_what_the_port_does_not_have(tmp_path, port):
    code, expected = BAD[port]
    errors = _check_snippet(tmp_path, port, code)
    for rule, word in expected:
        assert any(r == rule and word in m for _, _, r, m in errors), (rule, word, errors)
    assert len(errors) == len(expected), errors
    assert _check_snippet(tmp_path, port, GOOD[port]) == []
