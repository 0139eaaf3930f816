"""iota-edge provision and iota-edge keys: the config contract, the registry root, the mosquitto password line (checked
by a real mosquitto), 0600 secret files, seeds never printed, one-line errors naming the field."""
import json
import os
import stat
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from iota_edge.streams import Channel
from iota_edge.toolkit.devconfig import check_config, load_config, new_seed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "iota_edge.cli"] + list(args), capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_new_seed_is_uniform_trytes_by_rejection_sampling():
    stream = iter([243, 255, 0, 26, 27, 242] + [1] * 200)
    seed = new_seed(lambda n: bytes(next(stream) for _ in range(n)))
    # 243 and 255 are rejected (243 = 9 * 27 keeps each of the 27 trytes at exactly 9 byte values)
    assert seed[:4] == "9Z9Z" and len(seed) == 81 and set(seed[4:]) == {"A"}
    assert len({new_seed() for _ in range(50)}) == 50


def test_provision_writes_config_registry_and_password(tmp_path):
    out = cli("provision", "meter-7", "--board", "ESP32_GENERIC", "--uplink", "mqtt://127.0.0.1:1883",
              "--sensor", "sim_energy:p:W", "--out", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    cfg_path = tmp_path / "meter-7.config.json"
    assert stat.S_IMODE(os.stat(cfg_path).st_mode) == 0o600
    cfg = load_config(str(cfg_path))
    assert cfg["board"] == "ESP32_GENERIC" and cfg["channel"] == {"mode": "public", "side_key": None, "security": 1,
                                                                   "depth": 4}
    with open(os.path.join(REPO, "boards", "ESP32_GENERIC", "board.json")) as f:
        board_store = json.load(f)["defaults"]["store"]
    assert cfg["store"] == board_store   # the board's store defaults (boards/ESP32_GENERIC/board.json)
    assert cfg["sensors"] == [{"driver": "sim_energy", "name": "p", "unit": "W"}]
    url = urlsplit(cfg["uplink"]["url"])
    assert url.username == "meter-7" and len(url.password) >= 20 and url.port == 1883
    root = Channel(cfg["seed"], mode="public", security=1, start=0, count=16).root
    registry = json.loads((tmp_path / "devices.json").read_text())
    assert registry == {"meter-7": {"root": root, "mode": "public", "side_key": None}}
    assert report["root"] == root and report["password_file"].endswith("meter-7.mosquitto_passwd")
    for secret in (cfg["seed"], url.password):
        assert secret not in out.stdout + out.stderr
    line = (tmp_path / "meter-7.mosquitto_passwd").read_text()
    assert line.startswith("meter-7:$7$101$") and stat.S_IMODE(os.stat(tmp_path / "meter-7.mosquitto_passwd")
                                                               .st_mode) == 0o600


def test_the_password_line_lets_the_device_into_a_real_mosquitto(tmp_path):
    from _mosquitto import Broker
    import paho.mqtt.client as mqtt

    out = cli("provision", "meter-7", "--board", "RPI_PICO_W", "--uplink", "mqtt://127.0.0.1:1883",
              "--out", str(tmp_path / "p"))
    assert out.returncode == 0, out.stderr
    broker = Broker(tmp_path / "mq")
    with open(os.path.join(broker.dir, "passwd"), "a") as f:
        f.write((tmp_path / "p" / "meter-7.mosquitto_passwd").read_text())
    broker.start()
    try:
        password = urlsplit(load_config(str(tmp_path / "p" / "meter-7.config.json"))["uplink"]["url"]).password

        def connect(pw):
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="meter-7", protocol=mqtt.MQTTv311)
            c.username_pw_set("meter-7", pw)
            c.connect("127.0.0.1", broker.port)
            codes = []
            c.on_connect = lambda cl, u, flags, rc, props=None: codes.append(rc)
            for _ in range(50):
                c.loop(0.1)
                if codes:
                    break
            c.disconnect()
            return codes[0]

        assert connect(password) == 0
        assert connect(password + "x") != 0
    finally:
        broker.stop()


def test_provision_restricted_and_serial(tmp_path):
    (tmp_path / "key").write_text("SIDEKEY9FOR9TESTS")
    (tmp_path / "s.seed").write_text("A" * 81 + "\n")
    out = cli("provision", "serial-3", "--board", "RPI_PICO_W", "--uplink", "serial://uart0", "--mode", "restricted",
              "--side-key-file", str(tmp_path / "key"), "--seed-file", str(tmp_path / "s.seed"), "--out",
              str(tmp_path))
    assert out.returncode == 0, out.stderr
    cfg = load_config(str(tmp_path / "serial-3.config.json"))
    assert cfg["seed"] == "A" * 81 and cfg["uplink"]["url"] == "serial://uart0"
    assert not (tmp_path / "serial-3.mosquitto_passwd").exists()
    entry = json.loads((tmp_path / "devices.json").read_text())["serial-3"]
    assert entry == {"root": Channel("A" * 81, mode="restricted", side_key="SIDEKEY9FOR9TESTS", security=1,
                                     count=16).root, "mode": "restricted", "side_key": "SIDEKEY9FOR9TESTS"}


@pytest.mark.parametrize("args, says", [
    (["--board", "NOPE", "--uplink", "mqtt://h:1"], "board: unknown board 'NOPE'"),
    (["--board", "ESP32_GENERIC", "--uplink", "http://h:1"], "uplink.url: expected a scheme of mqtt, mqtts or serial"),
    (["--board", "ESP32_GENERIC", "--uplink", "mqtt://:1883"], "uplink.url: expected a host"),
    (["--board", "ESP32_GENERIC", "--uplink", "mqtt://h:1", "--mode", "restricted"], "side_key: restricted mode"),
    (["--board", "ESP32_GENERIC", "--uplink", "mqtt://h:1", "--sensor", "thermo"], "sensor: board ESP32_GENERIC"),
    (["--board", "ESP32_GENERIC", "--uplink", "mqtt://h:1", "--depth", "12"], "channel.depth: expected an int"),
    (["--board", "ESP32_GENERIC", "--uplink", "mqtt://h:1", "--seed-file", "/nonexistent"], "seed_file: cannot"),
])
def test_provision_bad_input_is_one_line_naming_the_field(tmp_path, args, says):
    out = cli("provision", "dev-1", "--out", str(tmp_path), *args)
    assert out.returncode == 2 and says in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert not (tmp_path / "dev-1.config.json").exists()


def test_provision_refuses_to_replace_a_device_unless_forced(tmp_path):
    args = ["provision", "m", "--board", "ESP32_GENERIC", "--uplink", "mqtt://h:1", "--out", str(tmp_path)]
    assert cli(*args).returncode == 0
    first = (tmp_path / "m.config.json").read_text()
    out = cli(*args)
    assert out.returncode == 2 and "already lists 'm'" in out.stderr
    assert (tmp_path / "m.config.json").read_text() == first
    assert cli(*args, "--force").returncode == 0 and (tmp_path / "m.config.json").read_text() != first


def test_check_config_names_the_field_and_never_the_seed():
    cfg = json.loads(json.dumps({"device": "d", "board": "UNIX", "seed": "B" * 81,
                                 "channel": {"mode": "public", "side_key": None, "security": 1, "depth": 4},
                                 "uplink": {"url": "mqtt://d:pw@h:1883", "ca": None, "keepalive_s": 30},
                                 "pow": {"where": "gateway", "mwm": 9},
                                 "sampling": {"interval_s": 10, "batch_max": 6, "batch_age_s": 60},
                                 "store": {"path": "/data/outbox", "budget_bytes": 65536, "segment_bytes": 4096,
                                           "policy": "drop_oldest"},
                                 "heartbeat_s": 60, "sensors": [{"driver": "sim_energy", "name": "p", "unit": "W"}]}))
    assert check_config(cfg) is cfg
    from iota_edge.errors import InvalidValue
    for path, value, field in ((("seed",), "B" * 80 + "b", "seed"), (("pow", "where"), "cloud", "pow.where"),
                               (("store", "budget_bytes"), 100, "store.budget_bytes"),
                               (("uplink", "url"), "ftp://x", "uplink.url")):
        bad = json.loads(json.dumps(cfg))
        d = bad
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
        with pytest.raises(InvalidValue) as e:
            check_config(bad)
        assert e.value.field == field and "B" * 20 not in str(e.value)


def test_keys_new_show_rotate(tmp_path):
    seed_file = tmp_path / "m.seed"
    out = cli("keys", "new", str(seed_file), "--json")
    assert out.returncode == 0, out.stderr
    seed = seed_file.read_text().strip()
    assert stat.S_IMODE(os.stat(seed_file).st_mode) == 0o600 and len(seed) == 81
    assert seed not in out.stdout + out.stderr
    assert json.loads(out.stdout)["root"] == Channel(seed, security=1, count=16).root
    again = cli("keys", "new", str(seed_file))
    assert again.returncode == 2 and "already exists" in again.stderr and seed_file.read_text().strip() == seed
    show = cli("keys", "show", str(seed_file), "--mode", "private", "--security", "2", "--depth", "2", "--json")
    info = json.loads(show.stdout)
    root = Channel(seed, mode="private", security=2, count=4).root
    from iota_edge.streams import channel_address
    assert info["root"] == root and info["address"] == channel_address(root, "private") != root
    reg = tmp_path / "devices.json"
    reg.write_text(json.dumps({"m": {"root": info["root"], "mode": "public", "side_key": None}, "other": {}}))
    rot = cli("keys", "rotate", str(seed_file), "--registry", str(reg), "--device", "m", "--json")
    assert rot.returncode == 0, rot.stderr
    new = seed_file.read_text().strip()
    assert new != seed and (tmp_path / "m.seed.old").read_text().strip() == seed
    assert stat.S_IMODE(os.stat(tmp_path / "m.seed.old").st_mode) == 0o600
    assert json.loads(reg.read_text())["m"]["root"] == Channel(new, security=1, count=16).root
    assert json.loads(reg.read_text())["other"] == {}
    assert new not in rot.stdout and seed not in rot.stdout


def test_keys_bad_seed_file_does_not_echo_it(tmp_path):
    bad = tmp_path / "bad.seed"
    bad.write_text("SECRETSEEDbutlowercase")
    out = cli("keys", "show", str(bad))
    assert out.returncode == 2 and "must hold exactly 81 trytes" in out.stderr and "SECRET" not in out.stderr
    assert cli("keys").returncode == 2   # no action given


@pytest.mark.parametrize("command", ["provision", "keys", "flash", "inspect", "keys new", "keys rotate"])
def test_every_toolkit_command_has_help_with_an_example(command):
    out = cli(*command.split(), "--help")
    assert out.returncode == 0 and "Example: iota-edge %s" % command.split()[0] in out.stdout


def test_check_config_is_the_firmware_validator(tmp_path):
    """One source of truth: the toolkit validates with firmware/app/config.py, so what the device would refuse at
    boot (an unknown key, an unknown driver, a store segment too small for one signed batch) is refused here."""
    from iota_edge.errors import InvalidValue
    from iota_edge.toolkit import devconfig

    fw = devconfig._firmware_config()
    assert os.path.realpath(fw.__file__) == os.path.realpath(os.path.join(devconfig.firmware_dir(), "app",
                                                                           "config.py"))
    seed = new_seed()
    cfg = devconfig.build_config("d", "UNIX", seed, uplink="mqtt://d:pw@h:1883")
    for change, field in (({"colour": "red"}, "colour"),
                          ({"sensors": [{"driver": "thermo", "name": "t"}]}, "sensors[0].driver"),
                          ({"store": dict(cfg["store"], segment_bytes=1024, budget_bytes=4096)},
                           "store.segment_bytes"),
                          ({"uplink": dict(cfg["uplink"], url="mqtts://d:pw@h:8883")}, "uplink.ca")):
        with pytest.raises(InvalidValue) as e:
            check_config(dict(cfg, **change))
        assert e.value.field == field and seed not in str(e.value) and "pw@" not in str(e.value)
    (tmp_path / "d.seed").write_text(seed)
    by_file = dict(cfg, seed_file="d.seed")
    del by_file["seed"]
    (tmp_path / "d.json").write_text(json.dumps(by_file))
    assert load_config(str(tmp_path / "d.json")) == by_file        # seed_file: relative to the config's folder
    (tmp_path / "d.seed").write_text("short")
    with pytest.raises(InvalidValue) as e:
        load_config(str(tmp_path / "d.json"))
    assert e.value.field == "seed_file"
