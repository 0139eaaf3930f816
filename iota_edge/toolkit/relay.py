"""Links the demo can cut: a TCP relay (boards -> broker) and a pty pair relay (board <-> gateway serial port).

    tcp = TcpRelay(("127.0.0.1", broker_port)).start()     # boards connect to tcp.port
    line = PtyRelay().start()                               # board opens line.board_path, gateway line.gateway_path
    tcp.cut(); line.cut()                                   # the uplink is down: connections dropped, bytes lost
    tcp.restore(); line.restore()

While cut, the TCP relay closes every connection and every new one at once (a device sees its broker go away and
backs off); the pty relay reads and drops every byte in both directions (a serial cable pulled out: the framing's
retransmission carries the data once it is back). CPython only.
"""
import os
import select
import socket
import threading
import tty


class TcpRelay:
    """Forwards connections on 127.0.0.1:``port`` (0: a free one) to ``target``."""

    def __init__(self, target, port=0):
        self.target = target
        self._listen = socket.socket()
        self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listen.bind(("127.0.0.1", port))
        self._listen.listen(16)
        self.port = self._listen.getsockname()[1]
        self._pairs = []
        self._lock = threading.Lock()
        self._down = False
        self._stop = False

    def start(self):
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()
        return self

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self._listen.accept()
            except OSError:
                return
            if self._down:
                conn.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((conn, upstream))
            threading.Thread(target=self._pump, args=(conn, upstream), daemon=True).start()

    def _pump(self, a, b):
        socks = [a, b]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 0.5)
                if self._stop:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            pass
        finally:
            self._drop(a, b)

    def _drop(self, a, b):
        with self._lock:
            if (a, b) in self._pairs:
                self._pairs.remove((a, b))
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        self._down = True
        with self._lock:
            pairs = list(self._pairs)
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self._down = False

    def close(self):
        self._stop = True
        self.cut()
        self._listen.close()


class PtyRelay:
    """Two pty pairs joined by a thread: the board opens ``board_path``, the gateway ``gateway_path``."""

    def __init__(self):
        self._board_master, board_slave = os.openpty()
        self._gw_master, gw_slave = os.openpty()
        for fd in (board_slave, gw_slave):
            tty.setraw(fd)
        self.board_path = os.ttyname(board_slave)
        self.gateway_path = os.ttyname(gw_slave)
        self._slaves = (board_slave, gw_slave)  # kept open so the masters never see EOF while a side reopens
        self._down = False
        self._stop = False
        self.dropped = 0

    def start(self):
        threading.Thread(target=self._pump, name="relay-pty", daemon=True).start()
        return self

    def _pump(self):
        peer = {self._board_master: self._gw_master, self._gw_master: self._board_master}
        while not self._stop:
            try:
                ready, _, _ = select.select(list(peer), [], [], 0.2)
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if self._down:
                    self.dropped += len(data)
                    continue
                try:
                    os.write(peer[fd], data)
                except OSError:
                    pass

    def cut(self):
        self._down = True

    def restore(self):
        self._down = False

    def close(self):
        self._stop = True
        for fd in (self._board_master, self._gw_master) + self._slaves:
            try:
                os.close(fd)
            except OSError:
                pass
