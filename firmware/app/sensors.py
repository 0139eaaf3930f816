"""Sensor drivers: each has ``read(now_s) -> [(name, value, unit), ...]`` (the values of one sample).

    from app.sensors import from_config
    sensors = from_config(cfg)              # cfg.sensors, pins from the board profile
    values = [v for s in sensors for v in s.read(now_s)]

Drivers:
- ``sim_energy``, ``sim_climate``: simulated (deterministic, seeded) meters for the UNIX board and tests.
- ``bme280``: Bosch BME280 over I2C (``machine.I2C`` or ``machine.SoftI2C``), forced mode, the integer compensation
  of the datasheet (BST-BME280-DS002, section 4.2.3: 32-bit temperature and humidity, 64-bit pressure).
- ``pulse_energy``: an S0 / LED pulse output of an energy meter on a ``machine.Pin`` falling-edge IRQ (debounced,
  allocation-free handler); ``quantity`` "power" (W over the last interval) or "energy" (Wh since boot).
"""
import sys

# CPython (host tests) has no ticks_*. The checker treats _MICROPYTHON as True (tests/typecheck/pyrightconfig.*.json
# defineConstant), so the CPython branch is checked by the host's type check, not against the board stubs.
_MICROPYTHON = sys.implementation.name == "micropython"
if _MICROPYTHON:
    from time import ticks_ms, ticks_diff
else:
    import time as _t

    def ticks_ms():
        return int(_t.monotonic() * 1000) & 0x3FFFFFFF

    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000


class SimEnergy:
    """A simulated power meter: ``base_w`` W with a slow daily-ish swing and seeded noise, in W (1 decimal)."""

    def __init__(self, name, unit="W", base_w=800, seed=1):
        self.name = name
        self.unit = unit
        self.base_w = base_w
        self._x = (seed * 2654435761 + 1) & 0x7FFFFFFF

    def _noise(self):
        self._x = (self._x * 1103515245 + 12345) & 0x7FFFFFFF   # the ANSI C LCG: no random module needed
        return (self._x >> 8) % 1000 / 1000.0 - 0.5

    def read(self, now_s):
        swing = ((now_s // 60) % 240) / 240.0
        watts = self.base_w * (0.7 + 0.6 * (swing if swing < 0.5 else 1 - swing)) * (1 + 0.2 * self._noise())
        return [(self.name, round(watts, 1), self.unit)]


class SimClimate:
    """A simulated thermometer and hygrometer: ``name``_t in Cel and ``name``_rh in %."""

    def __init__(self, name, unit="", base=21.0, seed=2):
        self.name = name
        self.base = base
        self._sim = SimEnergy(name, "", 100, seed)

    def read(self, now_s):
        n = self._sim._noise()
        return [(self.name + "_t", round(self.base + 2 * n, 2), "Cel"), (self.name + "_rh", round(45 + 10 * n, 1), "%")]


def _tdiv(a, b):
    """C integer division (truncates toward zero), as the datasheet's code does."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _s16(lo, hi):
    v = lo | (hi << 8)
    return v - 65536 if v & 0x8000 else v


def _s12(v):
    return v - 4096 if v & 0x800 else v


class BME280:
    """Temperature (Cel), humidity (%) and pressure (hPa) from a BME280 at ``addr`` on ``i2c``.

    ``quantity`` None reads all three as ``name``_t, ``name``_rh, ``name``_p; "t", "rh" or "p" reads one as ``name``.
    """

    CHIP_ID = 0x60
    REG_ID = 0xD0
    REG_CALIB0 = 0x88       # 26 bytes: T1..T3, P1..P9, (0xA0 unused), H1 at 0xA1
    REG_CALIB1 = 0xE1       # 7 bytes: H2..H6
    REG_CTRL_HUM = 0xF2
    REG_STATUS = 0xF3
    REG_CTRL_MEAS = 0xF4
    REG_DATA = 0xF7         # 8 bytes: press[3], temp[3], hum[2]

    def __init__(self, i2c, name="env", unit="", addr=0x76, quantity=None, sleep_ms=None):
        self.i2c = i2c
        self.addr = addr
        self.name = name
        self.quantity = quantity
        if sleep_ms is None:
            from time import sleep_ms
        self._sleep_ms = sleep_ms
        chip = i2c.readfrom_mem(addr, self.REG_ID, 1)[0]
        if chip != self.CHIP_ID:
            raise OSError("bme280: chip id 0x%02x at 0x%02x, expected 0x60" % (chip, addr))
        c = i2c.readfrom_mem(addr, self.REG_CALIB0, 26)
        self.T1 = c[0] | (c[1] << 8)
        self.T2 = _s16(c[2], c[3])
        self.T3 = _s16(c[4], c[5])
        self.P1 = c[6] | (c[7] << 8)
        self.P = [_s16(c[6 + 2 * i], c[7 + 2 * i]) for i in range(1, 9)]   # P2..P9
        self.H1 = c[25]
        h = i2c.readfrom_mem(addr, self.REG_CALIB1, 7)
        self.H2 = _s16(h[0], h[1])
        self.H3 = h[2]
        self.H4 = _s12((h[3] << 4) | (h[4] & 0x0F))
        self.H5 = _s12((h[5] << 4) | (h[4] >> 4))
        self.H6 = h[6] - 256 if h[6] & 0x80 else h[6]
        self._buf = bytearray(8)

    def measure(self):
        """(t_centi_C, p_Pa_Q24_8, rh_Q22_10) from one forced-mode measurement, oversampling x1."""
        i2c, a = self.i2c, self.addr
        i2c.writeto_mem(a, self.REG_CTRL_HUM, b"\x01")           # osrs_h x1 (takes effect on the ctrl_meas write)
        i2c.writeto_mem(a, self.REG_CTRL_MEAS, b"\x25")          # osrs_t x1, osrs_p x1, forced mode
        for _ in range(20):                                       # typ. 8 ms at x1/x1/x1 (datasheet 9.1)
            self._sleep_ms(2)
            if not i2c.readfrom_mem(a, self.REG_STATUS, 1)[0] & 0x08:
                break
        d = i2c.readfrom_mem(a, self.REG_DATA, 8)
        adc_p = (d[0] << 12) | (d[1] << 4) | (d[2] >> 4)
        adc_t = (d[3] << 12) | (d[4] << 4) | (d[5] >> 4)
        adc_h = (d[6] << 8) | d[7]
        return self.compensate(adc_t, adc_p, adc_h)

    def compensate(self, adc_t, adc_p, adc_h):
        T1, T2, T3 = self.T1, self.T2, self.T3
        var1 = (((adc_t >> 3) - (T1 << 1)) * T2) >> 11
        var2 = (((((adc_t >> 4) - T1) * ((adc_t >> 4) - T1)) >> 12) * T3) >> 14
        t_fine = var1 + var2
        t = (t_fine * 5 + 128) >> 8
        P2, P3, P4, P5, P6, P7, P8, P9 = self.P
        var1 = t_fine - 128000
        var2 = var1 * var1 * P6
        var2 = var2 + ((var1 * P5) << 17)
        var2 = var2 + (P4 << 35)
        var1 = ((var1 * var1 * P3) >> 8) + ((var1 * P2) << 12)
        var1 = (((1 << 47) + var1) * self.P1) >> 33
        if var1 == 0:
            p = 0
        else:
            p = 1048576 - adc_p
            p = _tdiv(((p << 31) - var2) * 3125, var1)
            var1 = (P9 * (p >> 13) * (p >> 13)) >> 25
            var2 = (P8 * p) >> 19
            p = ((p + var1 + var2) >> 8) + (P7 << 4)
        v = t_fine - 76800
        v = ((((adc_h << 14) - (self.H4 << 20) - (self.H5 * v)) + 16384) >> 15) * (
            ((((((v * self.H6) >> 10) * (((v * self.H3) >> 11) + 32768)) >> 10) + 2097152) * self.H2 + 8192) >> 14)
        v = v - (((((v >> 15) * (v >> 15)) >> 7) * self.H1) >> 4)
        v = 0 if v < 0 else (419430400 if v > 419430400 else v)
        return t, p, v >> 12

    def read(self, now_s):
        t, p, h = self.measure()
        values = {"t": (round(t / 100, 2), "Cel"), "rh": (round(h / 1024, 1), "%"), "p": (round(p / 25600, 2), "hPa")}
        if self.quantity is not None:
            v, u = values[self.quantity]
            return [(self.name, v, u)]
        return [(self.name + "_" + q, values[q][0], values[q][1]) for q in ("t", "rh", "p")]


class PulseMeter:
    """Counts falling edges on ``pin`` (a machine.Pin, input with pull-up): ``imp_per_kwh`` pulses per kWh.

    The IRQ handler only compares ticks and increments an int (a small int: no heap allocation, so it is safe as a
    hard IRQ too). ``read`` reports W over the time since the previous read ("power") or Wh since boot ("energy").
    """

    def __init__(self, pin, name="p", unit="W", imp_per_kwh=1000, quantity="power", debounce_ms=20):
        self.pin = pin
        self.name = name
        self.unit = unit
        self.imp_per_kwh = imp_per_kwh
        self.quantity = quantity
        self.debounce_ms = debounce_ms
        self.count = 0
        self._last_edge = ticks_ms()
        self._last_count = 0
        self._last_read = ticks_ms()
        import machine

        pin.irq(trigger=machine.Pin.IRQ_FALLING, handler=self._edge)

    def _edge(self, pin):
        now = ticks_ms()
        if ticks_diff(now, self._last_edge) >= self.debounce_ms:
            self.count += 1
            self._last_edge = now

    def _snapshot(self):
        import machine

        state = machine.disable_irq()
        n = self.count
        machine.enable_irq(state)
        return n

    def read(self, now_s):
        n = self._snapshot()
        if self.quantity == "energy":
            return [(self.name, round(n * 1000 / self.imp_per_kwh, 3), self.unit or "Wh")]
        now = ticks_ms()
        dt = ticks_diff(now, self._last_read)
        pulses = n - self._last_count
        self._last_read, self._last_count = now, n
        watts = 0.0 if dt <= 0 else pulses * 3600000000 / self.imp_per_kwh / dt   # Wh per pulse * 3.6e6 ms/h / dt
        return [(self.name, round(watts, 1), self.unit or "W")]


def from_config(cfg, i2c=None, pin_factory=None):
    """Driver objects for ``cfg.sensors``. Real drivers get their bus and pins from the board profile ("pins":
    {"i2c": {"id", "sda", "scl", "freq"}, "pulse": N}) unless ``i2c`` / ``pin_factory(n)`` are given (tests)."""
    pins = cfg.board_profile.get("pins", {})
    out = []
    for s in cfg.sensors:
        d = s["driver"]
        name, unit = s["name"], s.get("unit", "")
        if d == "sim_energy":
            out.append(SimEnergy(name, unit or "W", s.get("base_w", 800), s.get("seed", len(out) + 1)))
        elif d == "sim_climate":
            out.append(SimClimate(name, unit, s.get("base", 21.0), s.get("seed", len(out) + 1)))
        elif d == "bme280":
            if i2c is None:
                import machine

                bus = s.get("i2c", pins.get("i2c", {}))
                i2c = machine.I2C(bus.get("id", 0), scl=machine.Pin(bus["scl"]), sda=machine.Pin(bus["sda"]),
                                  freq=bus.get("freq", 400000))
            out.append(BME280(i2c, name, unit, s.get("addr", 0x76), s.get("quantity")))
        else:  # pulse_energy
            n = s.get("pin", pins.get("pulse"))
            if pin_factory is None:
                import machine

                pin = machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP)
            else:
                pin = pin_factory(n)
            out.append(PulseMeter(pin, name, unit, s.get("imp_per_kwh", 1000), s.get("quantity", "power")))
    return out
