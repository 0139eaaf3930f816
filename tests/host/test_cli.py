"""The iota-edge command line: every subcommand works, has --help with an example, and bad input gives one line."""
import json
import os
import subprocess
import sys

import pytest

from iota_edge.bundle import prepare_transfer

SEED = "TESTVALUE9DONTUSEINPRODUCTION999999GFDDCPFIIEHBCWFN9KHRBEIHHREFCKBVGUGEDXCFHDFPAL"


def cli(*args, env=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "iota_edge.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), input=stdin, timeout=300)


@pytest.mark.parametrize("command", ["address", "inspect", "node", "bench"])
def test_help_has_an_example(command):
    out = cli(command, "--help")
    assert out.returncode == 0 and "Example: iota-edge %s" % command in out.stdout


def test_address_from_file_and_env(tmp_path):
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text(SEED + "\n")
    out = cli("address", "--seed-file", str(seed_file), "--json")
    assert out.returncode == 0
    rows = json.loads(out.stdout)
    assert rows == [{"index": 0, "security": 2,
                     "address": "DLEIS9XU9V9T9OURAKDUSQWBQEYFGJLRPRVEWKN9SSUGIHBEIPBPEWISSAURGTQKWKWNHXGCBQTWNOGIY"}]
    out = cli("address", "--count", "2", "--checksum", "--security", "1", env={"IOTA_EDGE_SEED": SEED})
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and lines[0].split("\t")[1].startswith("KNDWDEEWWF") and len(lines[0].split("\t")[1]) == 90
    assert SEED not in out.stdout + out.stderr


def test_bad_input_is_one_line_without_the_seed(tmp_path):
    seed_file = tmp_path / "seed.txt"
    seed_file.write_text("SECRETSEED" + "a" * 20)
    out = cli("address", "--seed-file", str(seed_file))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "seed" in out.stderr and "SECRETSEED" not in out.stderr
    out = cli("address", env={"IOTA_EDGE_SEED": ""}, stdin="")
    assert out.returncode == 2 and "IOTA_EDGE_SEED" in out.stderr
    out = cli("inspect", str(tmp_path / "missing.txt"))
    assert out.returncode == 2 and "cannot read" in out.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("ABC\n")
    out = cli("inspect", str(bad))
    assert out.returncode == 2 and "2673" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = cli("bench", "nosuch")
    assert out.returncode == 2


def test_inspect_a_bundle(tmp_path):
    trytes = prepare_transfer(None, [{"address": "A" * 81, "tag": "CLI", "message": "hello from the cli"}],
                              timestamp=1700000000)
    path = tmp_path / "bundle.txt"
    path.write_text("\n".join(trytes))
    out = cli("inspect", str(path), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["bundle_valid"] and report["message"] == "hello from the cli"
    out = cli("inspect", "-", stdin=json.dumps(trytes))
    assert out.returncode == 0 and "valid" in out.stdout and "hello from the cli" in out.stdout
    broken = list(trytes)
    broken[0] = broken[0][:2300] + ("A" if broken[0][2300] != "A" else "B") + broken[0][2301:]
    path.write_text("\n".join(broken))
    out = cli("inspect", str(path))
    assert out.returncode == 1 and "INVALID" in out.stdout


def _subcommands():
    from iota_edge.cli import build_parser

    parser = build_parser()
    sub = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    return sorted(sub.choices)


def test_every_subcommand_has_help_with_an_example_and_refuses_a_bad_option_in_one_line():
    names = _subcommands()
    assert {"address", "inspect", "node", "gateway", "provision", "keys", "flash", "demo", "device",
            "bench"} <= set(names)
    for name in names:
        out = subprocess.run([sys.executable, "-m", "iota_edge.cli", name, "--help"], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0 and "example" in out.stdout.lower(), name
        bad = subprocess.run([sys.executable, "-m", "iota_edge.cli", name, "--no-such-option"], capture_output=True,
                             text=True, timeout=60)
        last = bad.stderr.strip().splitlines()[-1]   # argparse: usage lines, then one "iota-edge X: error: ..." line
        assert bad.returncode == 2 and last.startswith("iota-edge") and "error:" in last, (name, bad.stderr)
