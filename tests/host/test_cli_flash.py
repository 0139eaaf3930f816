"""iota-edge flash: esptool, UF2 and picotool steps against fake tools that record their command lines (and a fake
mpremote that plays the board's file system), and the mpremote path against a real MicroPython: the micro:bit's, in
qemu-system-arm -M microbit, with its serial on a pty."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest

from iota_edge.toolkit.devconfig import build_config, new_seed

HERE = os.path.dirname(os.path.abspath(__file__))
MICROBIT_HEX = "/usr/share/firmware-microbit-micropython/firmware.hex"


@pytest.fixture
def fake(tmp_path):
    """PATH with fake esptool, picotool and mpremote; returns (env, log reader, board fs dir, fake port)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("esptool", "picotool", "mpremote"):
        p = bindir / name
        p.write_text("#!%s\nexec(open(%r).read())\n" % (sys.executable, os.path.join(HERE, "fakebin", "fake_tool.py")))
        p.chmod(0o755)
    board_fs = tmp_path / "boardfs"
    board_fs.mkdir()
    port = tmp_path / "ttyUSB0"
    port.write_text("")
    log = tmp_path / "tools.log"
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), FAKE_TOOL_LOG=str(log),
               FAKE_BOARD_FS=str(board_fs))

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return env, calls, board_fs, str(port)


def cli(args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "iota_edge.cli"] + args, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=240)


def write_config(tmp_path, board, uplink="mqtt://dev-1:pw@127.0.0.1:1883"):
    path = tmp_path / ("%s.config.json" % board)
    path.write_text(json.dumps(build_config("dev-1", board, new_seed(), uplink=uplink)))
    return str(path)


def test_flash_esp32_erases_writes_at_the_board_offset_then_copies_app_and_config(fake, tmp_path):
    env, calls, board_fs, port = fake
    fw = tmp_path / "ESP32_GENERIC-v1.26.1.bin"
    fw.write_bytes(os.urandom(5000))
    cfg = write_config(tmp_path, "ESP32_GENERIC")
    out = cli(["flash", "--board", "ESP32_GENERIC", "--port", port, "--firmware-dir", str(tmp_path),
               "--config", cfg, "--json"], env)
    assert out.returncode == 0, out.stderr
    c = calls()
    assert c[0]["tool"] == "esptool" and c[0]["argv"] == ["--chip", "esp32", "--port", port, "--baud", "460800",
                                                          "erase-flash"]
    assert c[1]["argv"] == ["--chip", "esp32", "--port", port, "--baud", "460800", "write-flash", "-z", "0x1000",
                            str(fw)]
    assert all(x["tool"] == "mpremote" and x["argv"][:2] == ["connect", port] for x in c[2:])
    assert c[-1]["argv"] == ["connect", port, "reset"]
    # the fake board's file system now holds the app, the portable core and the config, byte for byte
    root = os.path.dirname(os.path.dirname(HERE))
    for rel, remote in (("firmware/app/store.py", "app/store.py"), ("iota_edge/streams/channel.py",
                                                                      "lib/iota_edge/streams/channel.py"),
                        ("iota_edge/signing.py", "lib/iota_edge/signing.py")):
        with open(os.path.join(root, rel), "rb") as f:
            assert (board_fs / remote).read_bytes() == f.read()
    assert json.loads((board_fs / "config.json").read_text()) == json.loads(open(cfg).read())
    report = json.loads(out.stdout.splitlines()[-1])
    assert report["board"] == "ESP32_GENERIC" and report["files"] >= 20
    # no secret on any command line: the seed travels inside a 0700 temporary script, removed afterwards
    seed = json.loads(open(cfg).read())["seed"]
    assert seed not in json.dumps(c) and seed not in out.stdout + out.stderr


def test_flash_esp32_failure_is_one_line_and_stops(fake, tmp_path):
    env, calls, _, port = fake
    (tmp_path / "ESP32_GENERIC-x.bin").write_bytes(b"\0" * 64)
    out = cli(["flash", "--board", "ESP32_GENERIC", "--port", port, "--firmware-dir", str(tmp_path)],
              dict(env, FAKE_TOOL_FAIL="esptool"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "erase flash failed" in out.stderr
    assert "No serial data received" in out.stderr
    assert [x["tool"] for x in calls()] == ["esptool"]


def uf2(path, blocks=4):
    block = bytearray(512)
    block[0:4] = (0x0A324655).to_bytes(4, "little")
    block[4:8] = (0x9E5D5157).to_bytes(4, "little")
    path.write_bytes(bytes(block) * blocks)
    return str(path)


def test_flash_rp2040_copies_the_uf2_to_the_drive(fake, tmp_path):
    env, calls, board_fs, port = fake
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    fw = uf2(tmp_path / "RPI_PICO_W-v1.26.1.uf2")
    out = cli(["flash", "--board", "RPI_PICO_W", "--port", port, "--firmware", fw, "--drive", str(drive),
               "--skip-app"], env)
    assert out.returncode == 0, out.stderr
    assert (drive / "RPI_PICO_W-v1.26.1.uf2").read_bytes() == open(fw, "rb").read()
    assert "100%" in out.stderr  # the progress bar
    assert [x["tool"] for x in calls()] == []  # no config and no app: nothing for mpremote to do


def test_flash_rp2040_uses_picotool_without_a_drive(fake, tmp_path, monkeypatch):
    env, calls, board_fs, port = fake
    fw = uf2(tmp_path / "RPI_PICO_W-v1.26.1.uf2")
    cfg = write_config(tmp_path, "RPI_PICO_W")
    from iota_edge.toolkit import flash

    if flash.find_drive("RPI-RP2"):
        pytest.skip("a real RPI-RP2 drive is mounted on this machine")
    out = cli(["flash", "--board", "RPI_PICO_W", "--port", port, "--firmware", fw, "--skip-app", "--config", cfg],
              env)
    assert out.returncode == 0, out.stderr
    c = calls()
    assert c[0] == {"tool": "picotool", "argv": ["load", "-v", "-x", fw, "-f"]}
    assert c[-1]["argv"] == ["connect", port, "reset"]
    assert json.loads((board_fs / "config.json").read_text())["board"] == "RPI_PICO_W"


def test_flash_refuses_a_file_that_is_not_uf2(fake, tmp_path):
    env, calls, _, port = fake
    bad = tmp_path / "x.uf2"
    bad.write_bytes(b"not a uf2" * 100)
    out = cli(["flash", "--board", "RPI_PICO_W", "--port", port, "--firmware", str(bad), "--drive", str(tmp_path)],
              env)
    assert out.returncode == 2 and "is not a UF2 file" in out.stderr and calls() == []


def test_flash_dry_run_prints_the_commands_and_runs_none(fake, tmp_path):
    env, calls, board_fs, port = fake
    (tmp_path / "ESP32_GENERIC-v1.bin").write_bytes(b"\0" * 64)
    cfg = write_config(tmp_path, "ESP32_GENERIC")
    out = cli(["flash", "--board", "ESP32_GENERIC", "--port", port, "--config", cfg, "--dry-run", "--mpy"], env,
              cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "erase-flash" in lines[0] and "write-flash -z 0x1000" in lines[1]
    assert any(":/lib/iota_edge/signing.mpy" in line for line in lines)   # compiled for xtensawin
    assert any(":/main.py" in line for line in lines) or not os.path.exists("firmware/main.py")
    assert lines[-1].endswith("connect %s reset" % port)
    assert calls() == [] and os.listdir(board_fs) == []


def test_flash_mpy_is_refused_for_a_board_without_an_arch(fake, tmp_path):
    env, _, _, port = fake
    out = cli(["flash", "--board", "MICROBIT", "--port", port, "--skip-firmware", "--mpy", "--dry-run"], env)
    assert out.returncode == 2 and "--mpy" in out.stderr and "MICROBIT" in out.stderr


def test_flash_config_for_another_board_is_refused(fake, tmp_path):
    env, calls, _, port = fake
    cfg = write_config(tmp_path, "ESP32_GENERIC")
    out = cli(["flash", "--board", "RPI_PICO_W", "--port", port, "--skip-firmware", "--config", cfg], env)
    assert out.returncode == 2 and "is for board ESP32_GENERIC, not RPI_PICO_W" in out.stderr and calls() == []


class Port:
    def __init__(self, device, vid, pid):
        self.device, self.vid, self.pid = device, vid, pid


def test_flash_port_auto_picks_the_board_by_usb_id(fake, tmp_path, monkeypatch, capsys):
    env, calls, _, _ = fake
    from serial.tools import list_ports
    from iota_edge import cli as iota_cli

    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("FAKE_TOOL_LOG", env["FAKE_TOOL_LOG"])
    (tmp_path / "ESP32_GENERIC-v1.bin").write_bytes(b"\0" * 64)
    ports = [Port("/dev/ttyACM0", 0x2E8A, 0x0005), Port("/dev/ttyUSB3", 0x10C4, 0xEA60), Port("/dev/ttyS0", None,
                                                                                              None)]
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    argv = ["flash", "--board", "ESP32_GENERIC", "--port", "auto", "--firmware-dir", str(tmp_path), "--skip-app",
            "--json"]
    assert iota_cli.main(argv) == 0
    assert [x["argv"][3] for x in calls()] == ["/dev/ttyUSB3", "/dev/ttyUSB3"]  # --port of both esptool calls
    assert json.loads(capsys.readouterr().out)["port"] == "/dev/ttyUSB3"
    ports.append(Port("/dev/ttyUSB4", 0x1A86, 0x7523))
    assert iota_cli.main(argv) == 2
    assert "several ESP32_GENERIC boards found (/dev/ttyUSB3, /dev/ttyUSB4)" in capsys.readouterr().err
    ports[:] = [Port("/dev/ttyACM0", 0x2E8A, 0x0005)]
    assert iota_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "no ESP32_GENERIC found by USB id" in err and "/dev/ttyACM0 (2e8a:0005)" in err


def test_flash_unknown_board_names_the_known_ones():
    out = cli(["flash", "--board", "ARDUINO_UNO", "--port", "/dev/null"])
    assert out.returncode == 2
    assert "unknown board 'ARDUINO_UNO'" in out.stderr and "ESP32_GENERIC" in out.stderr


def _need(tool_ok, what, how):
    if not tool_ok:
        if os.environ.get("CI") == "true":
            pytest.fail("%s is required in CI: %s" % (what, how))
        pytest.skip("%s not installed (%s)" % (what, how))


@pytest.fixture
def microbit(tmp_path):
    """The micro:bit's MicroPython 1.0.1 (Debian firmware-microbit-micropython) in qemu-system-arm -M microbit,
    its UART on a pty; yields the pty path."""
    qemu = shutil.which("qemu-system-arm")
    _need(qemu, "qemu-system-arm", "apt-get install qemu-system-arm")
    _need(os.path.exists(MICROBIT_HEX), "the micro:bit MicroPython", "apt-get install firmware-microbit-micropython")
    log = tmp_path / "qemu.log"
    proc = subprocess.Popen([qemu, "-M", "microbit", "-device", "loader,file=" + MICROBIT_HEX, "-nographic",
                             "-serial", "pty", "-monitor", "none"], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        m = None
        while m is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            m = re.search(r"(/dev/pts/\d+)", log.read_text())
        assert m, "qemu did not open a pty: %s" % log.read_text()
        yield m.group(1)
    finally:
        proc.kill()
        proc.wait()


def mpremote_exec(port, code):
    from iota_edge._tools import find_tool

    mp = find_tool("mpremote")
    argv = [mp] if mp else [sys.executable, "-m", "mpremote"]
    r = subprocess.run(argv + ["connect", port, "exec", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.micropython
def test_flash_through_mpremote_onto_a_real_micropython_in_qemu(microbit, tmp_path):
    assert "boot.txt" not in mpremote_exec(microbit, "import os; print(os.listdir())")
    prov = cli(["provision", "mb-1", "--board", "MICROBIT", "--uplink", "serial://uart0", "--out", str(tmp_path)])
    assert prov.returncode == 0, prov.stderr
    cfg = tmp_path / "mb-1.config.json"
    out = cli(["flash", "--board", "MICROBIT", "--port", microbit, "--skip-firmware", "--config", str(cfg)])
    assert out.returncode == 0, out.stderr
    assert "flashed MICROBIT on %s: 2 files" % microbit in out.stdout
    files = mpremote_exec(microbit, "import os; print(sorted(os.listdir()))")
    assert files.strip() == "['boot.txt', 'config.json', 'main.py']"
    on_board = mpremote_exec(microbit, "print(open('config.json').read())")
    assert json.loads(on_board) == json.loads(cfg.read_text())   # the provisioned config, byte for byte as JSON
    main_py = mpremote_exec(microbit, "print(open('main.py').read())")
    with open(os.path.join(os.path.dirname(os.path.dirname(HERE)), "boards/MICROBIT/main.py")) as f:
        assert main_py.replace("\r\n", "\n").rstrip("\n") == f.read().rstrip("\n")
    # boot.txt is written by main.py when the board starts: the reset restarted it and it read the config
    boots, size = mpremote_exec(microbit, "print(open('boot.txt').read())").split()
    assert boots == "1" and int(size) == len(on_board.strip()) + 1
