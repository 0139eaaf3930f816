"""mosquitto (Debian's broker) as a child process on free loopback ports: passwords, an ACL, optional TLS (a fresh
test CA made with openssl) and optional on-disk persistence. Used by the demo and by the tests.

    from simulators.broker.mosquitto import Mosquitto, find_tool
    b = Mosquitto("run/broker", users={"gateway": "gwpass", "meter-7": "pw7"}, acl=DEFAULT_ACL % "gateway").start()
    b.port, b.tls_port, b.dir + "/ca.crt"
    b.stop()

``find_tool("mosquitto")`` is None when mosquitto is not installed (``apt-get install mosquitto mosquitto-clients``);
it also looks in /usr/sbin, which a non-root user's PATH may lack.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

# The gateway user reads and writes everything under iota-edge/; a device writes only its own up and hb topics and
# reads only its own acks (mosquitto substitutes %u with the user name).
DEFAULT_ACL = ("user %s\ntopic readwrite iota-edge/#\n\n"
               "pattern write iota-edge/%%u/up\npattern write iota-edge/%%u/hb\npattern read iota-edge/%%u/ack\n")


def find_tool(name):
    """Path of a mosquitto program (mosquitto, mosquitto_passwd, mosquitto_pub), or None."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def _tool(name):
    path = find_tool(name)
    if not path:
        raise FileNotFoundError("%s is not installed (apt-get install -y mosquitto mosquitto-clients)" % name)
    return path


def free_port():
    """A loopback TCP port nothing listens on now (the OS picks it)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Mosquitto:
    """mosquitto on 127.0.0.1: plain listener, TLS listener when tls=True, optional on-disk persistence.
    ``users``: {name: password}; ``acl``: the ACL file's text (None: no ACL, every user may use every topic)."""

    def __init__(self, directory, persistence=False, tls=False, verbose=False, users=None, acl=None):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.proc = None
        passwd = os.path.join(self.dir, "passwd")
        first = True
        for name, password in (users or {}).items():
            subprocess.run([_tool("mosquitto_passwd"), "-b"] + (["-c"] if first else []) + [passwd, name, password],
                           check=True)
            first = False
        if acl is not None:
            with open(os.path.join(self.dir, "acl"), "w") as f:
                f.write(acl)
        lines = ["per_listener_settings false", "allow_anonymous false", "password_file " + passwd,
                 "log_dest file " + os.path.join(self.dir, "mosquitto.log"),
                 "max_queued_messages 10000", "listener %d 127.0.0.1" % self.port]
        if acl is not None:
            lines.append("acl_file " + os.path.join(self.dir, "acl"))
        if verbose:
            lines.append("log_type all")   # one line per packet: "Received PUBLISH from dev1 (d1, q1, r0, m5, ..."

        if os.geteuid() == 0:
            lines.insert(0, "user root")   # else it drops to user mosquitto, who cannot read pytest's tmp dir
        if persistence:
            lines += ["persistence true", "persistence_location " + self.dir + "/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if tls:
            self._make_certs()
            d = self.dir
            lines += ["listener %d 127.0.0.1" % self.tls_port, "cafile %s/ca.crt" % d,
                      "certfile %s/server.crt" % d, "keyfile %s/server.key" % d, "tls_version tlsv1.2"]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _make_certs(self):
        d = self.dir

        def ossl(*args):
            subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=iota-edge-test-ca",
             "-keyout", "ca.key", "-out", "ca.crt")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr")
        with open(os.path.join(d, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
        ossl("x509", "-in", "ca.crt", "-outform", "DER", "-out", "ca.der")

    def start(self):
        self.proc = subprocess.Popen([_tool("mosquitto"), "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited: %s" % self.proc.stderr.read().decode())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not listen on %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()          # SIGTERM: mosquitto writes its persistence file
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def crash(self):
        """Freeze the broker (the device's publishes sit unacknowledged in its socket), then SIGKILL it."""
        self.proc.send_signal(signal.SIGSTOP)
        return self

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def log_all(self):
        try:
            with open(os.path.join(self.dir, "mosquitto.log")) as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        return self.log_all()[-3000:]
