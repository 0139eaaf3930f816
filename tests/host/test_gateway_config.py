"""Gateway configuration: validation errors name the key; secrets come from files or the environment and never
show in reprs or logs; the CLI answers bad input with one line and exit status 2."""
import io
import json

import pytest

from _gateway_helpers import SimDevice
from iota_edge import cli
from iota_edge.gateway.config import ConfigError, Secret, load_config
from iota_edge.gateway.log import EventLog

ROOT = "A" * 81


@pytest.fixture
def files(tmp_path):
    (tmp_path / "devices.json").write_text(json.dumps({"meter-7": {"root": ROOT, "mode": "public"}}))
    (tmp_path / "mqtt.pw").write_text("s3cret-pw\n")
    (tmp_path / "ca.crt").write_text("not checked here\n")
    return tmp_path


BASE = """
[gateway]
id = "gw-1"
data_dir = "data"
[node]
url = "http://127.0.0.1:14265"
[devices]
registry = "devices.json"
"""


def load(tmp_path, text, env=None):
    p = tmp_path / "gw.toml"
    p.write_text(text)
    return load_config(str(p), env=env or {})


def error(tmp_path, text, env=None):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text, env)
    return str(e.value)


def test_a_valid_config(files):
    cfg = load(files, BASE + """
[[transports]]
url = "mqtts://broker.example:8883"
username = "gateway"
password_file = "mqtt.pw"
ca = "ca.crt"
shared_group = "fleet"
[[transports]]
url = "serial:///dev/ttyUSB0?baud=57600"
[outbox]
max_items = 10
policy = "drop_oldest"
[metrics]
listen = "127.0.0.1:9108"
""")
    mq, ser = cfg.transports
    assert (mq.scheme, mq.host, mq.port, mq.username, mq.shared_group) == ("mqtts", "broker.example", 8883,
                                                                             "gateway", "fleet")
    assert mq.password.reveal() == "s3cret-pw" and mq.ca == str(files / "ca.crt")
    assert (ser.scheme, ser.path, ser.baud) == ("serial", "/dev/ttyUSB0", 57600)
    assert cfg.db_path == str(files / "data" / "outbox.db")
    assert cfg.outbox.policy == "drop_oldest" and cfg.metrics_listen == ("127.0.0.1", 9108)
    assert cfg.devices == {"meter-7": {"root": ROOT, "mode": "public", "side_key": None}}
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(mq.password)


@pytest.mark.parametrize("extra, message", [
    ('[[transports]]\nurl = "mqtt://b"\n[[transports]]\nurl = "htp://x"\n',
     "transports[1].url: expected mqtt://, mqtts://, serial:// or loop://, got 'htp://x'"),
    ('', "transports: expected at least one [[transports]] table with a url"),
    ('[[transports]]\nurl = "mqtt://b"\npassword = "x"\nusername = "u"\n',
     "transports[0].password: put secrets in password_file or password_env, not in the config file"),
    ('[[transports]]\nurl = "mqtt://u:pw@b"\n', "transports[0].url: no password in the URL"),
    ('[[transports]]\nurl = "mqtt://b"\nusername = "u"\npassword_env = "NOPE"\n',
     "transports[0].password_env: environment variable NOPE is not set"),
    ('[[transports]]\nurl = "mqtt://b"\nusername = "u"\npassword_file = "missing.pw"\n',
     "transports[0].password_file: cannot read"),
    ('[[transports]]\nurl = "mqtt://b"\nca = "ca.crt"\n', "transports[0].url: ca/cert given but the URL is mqtt://"),
    ('[[transports]]\nurl = "mqtt://b"\nshared_group = "a/b"\n', "transports[0].shared_group: expected a name"),
    ('[[transports]]\nurl = "mqtt://b"\nshared_group = "g"\nmqtt_version = 3\n',
     "transports[0].shared_group: shared subscriptions need mqtt_version = 5"),
    ('[[transports]]\nurl = "mqtt://b"\nqos = 2\n', "transports[0].qos: unknown key"),
    ('[[transports]]\nurl = "serial://"\n', "transports[0].url: expected serial:///dev/NAME"),
    ('[[transports]]\nurl = "serial:///dev/x?baud=fast"\n', "transports[0].url: baud: expected an integer"),
    ('[[transports]]\nurl = "loop://"\n[[transports]]\nurl = "loop://"\n', "transports[1].url: 'loop://' is listed"),
    ('[[transports]]\nurl = "loop://"\n[outbox]\npolicy = "fifo"\n',
     "outbox.policy: expected one of refuse_new, drop_oldest, got 'fifo'"),
    ('[[transports]]\nurl = "loop://"\n[outbox]\nmax_items = 0\n', "outbox.max_items: expected an integer >= 1"),
    ('[[transports]]\nurl = "loop://"\n[metrics]\nlisten = "nowhere"\n', "metrics.listen: expected HOST:PORT"),
    ('[[transports]]\nurl = "loop://"\n[log]\nformat = "xml"\n', "log.format: expected one of json, text"),
    ('[[transports]]\nurl = "loop://"\n[surprise]\n', "surprise: unknown key"),
])
def test_errors_name_the_key(files, extra, message):
    assert message in error(files, BASE + extra)


def test_node_errors_name_the_key(files):
    text = BASE.replace('url = "http://127.0.0.1:14265"', 'url = "ftp://x"\npow = "gpu"') + \
        '[[transports]]\nurl = "loop://"\n'
    assert error(files, text).startswith("node.url: expected http://")
    text = BASE.replace('url = "http://127.0.0.1:14265"', 'url = "http://n:1"\npow = "gpu"') + \
        '[[transports]]\nurl = "loop://"\n'
    assert error(files, text) == "node.pow: expected one of local, node, got 'gpu'"
    assert "not valid TOML" in error(files, "[gateway\n")


def test_max_depth(files):
    loop = '[[transports]]\nurl = "loop://"\n'
    assert load(files, BASE + loop).node.max_depth == 15  # IRI's default --max-depth
    assert load(files, BASE.replace('[devices]', 'max_depth = 4\n[devices]') + loop).node.max_depth == 4
    assert error(files, BASE.replace('[devices]', 'max_depth = 0\n[devices]') + loop).startswith(
        "node.max_depth: expected an integer >= 1")


def test_order_hold(files):
    loop = '[[transports]]\nurl = "loop://"\n'
    assert load(files, BASE + loop).node.order_hold_s == 45.0  # above the firmware's 30 s resend
    for value, expected in (("0", 0.0), ("90", 90.0), ("12.5", 12.5)):
        text = BASE.replace('[devices]', 'order_hold_s = %s\n[devices]' % value) + loop
        assert load(files, text).node.order_hold_s == expected
    for value in ("-1", '"45"', "true", "inf", "nan"):
        text = BASE.replace('[devices]', 'order_hold_s = %s\n[devices]' % value) + loop
        assert error(files, text).startswith("node.order_hold_s: expected a number of seconds >= 0, got ")
    # a shared subscription gives a gateway only some of each device's seqs: no holding unless asked for
    shared = '[[transports]]\nurl = "mqtt://b"\nshared_group = "fleet"\n'
    assert load(files, BASE + shared).node.order_hold_s == 0.0
    text = BASE.replace('[devices]', 'order_hold_s = 60\n[devices]') + shared
    assert load(files, text).node.order_hold_s == 60.0


def test_secrets_from_env_and_registry_side_keys(files):
    (files / "devices.json").write_text(json.dumps({
        "r1": {"root": ROOT, "mode": "restricted", "side_key_env": "R1_KEY"},
        "r2": {"root": ROOT, "mode": "restricted", "side_key_file": "r2.key"}}))
    (files / "r2.key").write_text("FILEKEY\n")
    cfg = load(files, BASE + '[[transports]]\nurl = "mqtt://b"\nusername = "u"\npassword_env = "PW"\n',
               env={"PW": "env-secret", "R1_KEY": "ENVKEY"})
    assert cfg.transports[0].password.reveal() == "env-secret"
    assert cfg.devices["r1"]["side_key"] == "ENVKEY" and cfg.devices["r2"]["side_key"] == "FILEKEY"
    assert "env-secret" not in repr(cfg) and "ENVKEY" not in repr(cfg) and "FILEKEY" not in repr(cfg)
    stream = io.StringIO()
    EventLog(stream=stream).event("info", "x", password=cfg.transports[0].password)
    assert "env-secret" not in stream.getvalue() and "Secret(<from env PW>)" in stream.getvalue()
    (files / "devices.json").write_text(json.dumps({"r3": {"root": ROOT, "mode": "restricted"}}))
    assert error(files, BASE + '[[transports]]\nurl = "loop://"\n') == \
        'devices["r3"].side_key: restricted mode needs a side key and only it takes one'
    (files / "devices.json").write_text(json.dumps({"r4": {"root": "AB", "mode": "public"}}))
    assert error(files, BASE + '[[transports]]\nurl = "loop://"\n') == \
        'devices["r4"].root: expected the 81-tryte channel root'
    assert isinstance(cfg.transports[0].password, Secret)


def test_cli_bad_input_is_one_line_and_exit_2(files, capsys):
    p = files / "gw.toml"
    p.write_text(BASE + '[[transports]]\nurl = "htp://x"\n')
    assert cli.main(["gateway", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "transports[0].url: expected mqtt://" in err
    assert cli.main(["gateway", "status"]) == 2
    assert "give --config FILE or --db PATH" in capsys.readouterr().err
    assert cli.main(["gateway", "status", "--db", str(files / "nope.db")]) == 2
    assert "no such database" in capsys.readouterr().err
    (files / "junk.db").write_bytes(b"this is not sqlite" * 100)
    assert cli.main(["gateway", "status", "--db", str(files / "junk.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "junk.db" in err
    with pytest.raises(SystemExit) as e:
        cli.main(["gateway", "--help"])
    assert e.value.code == 0 and "iota-edge gateway status --db" in capsys.readouterr().out


def test_sim_device_registry_entry_loads(files):
    dev = SimDevice("x")
    (files / "devices.json").write_text(json.dumps({"x": dev.registry_entry()}))
    assert load(files, BASE + '[[transports]]\nurl = "loop://"\n').devices["x"]["root"] == dev.root
