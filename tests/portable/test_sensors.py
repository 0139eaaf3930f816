"""firmware/app/sensors.py drivers against emulated hardware, on CPython and on the MicroPython unix port.

- BME280: a fake I2C bus (the ``machine.I2C`` methods the driver calls: ``readfrom_mem``, ``writeto_mem``) holding a
  BME280 register map: chip id 0x60 at 0xD0, calibration at 0x88..0xA1 and 0xE1..0xE7, raw ADC values at 0xF7..0xFE,
  a busy status bit after a forced-mode write. The driver's integer compensation (BST-BME280-DS002 section 4.2.3) is
  compared with the datasheet's double-precision formulas (section 8.1), computed here independently. Known answer:
  the calibration and ADC values of the Bosch BMP280 datasheet's worked example (BST-BMP280-DS001, section 3.12:
  t_fine = 128422, T = 25.08 degC, p = 100653.27 Pa), which the BME280 shares for T and p. The 64-bit integer
  formula gives 25767233 / 256 = 100653.25 Pa there (computed with C integer semantics, not taken from the datasheet).
- Pulse meter: a fake ``machine.Pin`` whose ``irq(handler, trigger)`` the test calls at known ticks (the driver's
  ``ticks_ms`` is replaced by the test's clock): power over an interval, energy since boot, debouncing.
"""
import struct
import sys

from _support import raises

_FW = (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../../firmware"
if _FW not in sys.path:
    sys.path.insert(0, _FW)

from app import sensors  # noqa: E402

# BMP280 datasheet 3.12 worked example (T1..T3, P1..P9) plus humidity coefficients of a typical BME280 part
CAL = {"T1": 27504, "T2": 26435, "T3": -1000,
       "P1": 36477, "P2": -10685, "P3": 3024, "P4": 2855, "P5": 140, "P6": -7, "P7": 15500, "P8": -14600, "P9": 6000,
       "H1": 75, "H2": 362, "H3": 0, "H4": 313, "H5": 50, "H6": 30}
ADC_T, ADC_P, ADC_H = 519888, 415148, 30000


class FakeBME280Bus:
    """An I2C bus with one BME280 at ``addr``: a 256-byte register file, a log of writes, a busy bit."""

    def __init__(self, addr=0x76, cal=CAL, adc=(ADC_T, ADC_P, ADC_H), chip_id=0x60, busy_reads=2):
        self.addr = addr
        self.regs = bytearray(256)
        self.regs[0xD0] = chip_id
        c = struct.pack("<HhhHhhhhhhhh", cal["T1"], cal["T2"], cal["T3"], cal["P1"], cal["P2"], cal["P3"],
                        cal["P4"], cal["P5"], cal["P6"], cal["P7"], cal["P8"], cal["P9"])
        self.regs[0x88:0x88 + 24] = c
        self.regs[0xA1] = cal["H1"]
        h4, h5 = cal["H4"] & 0xFFF, cal["H5"] & 0xFFF
        self.regs[0xE1:0xE8] = struct.pack("<hB", cal["H2"], cal["H3"]) + bytes(
            [h4 >> 4, (h4 & 0x0F) | ((h5 & 0x0F) << 4), h5 >> 4, cal["H6"] & 0xFF])
        self.set_adc(*adc)
        self.busy_reads = busy_reads
        self._busy = 0
        self.writes = []

    def set_adc(self, t, p, h):
        self.regs[0xF7:0xFF] = bytes([p >> 12, (p >> 4) & 0xFF, (p & 0x0F) << 4,
                                      t >> 12, (t >> 4) & 0xFF, (t & 0x0F) << 4, h >> 8, h & 0xFF])

    def _check(self, addr):
        if addr != self.addr:
            raise OSError(19, "ENODEV")        # what machine.I2C raises when nothing acknowledges the address

    def readfrom_mem(self, addr, reg, n):
        self._check(addr)
        if reg == 0xF3:
            status = 0x08 if self._busy else 0
            self._busy = max(0, self._busy - 1)
            return bytes([status])
        return bytes(self.regs[reg:reg + n])

    def writeto_mem(self, addr, reg, buf):
        self._check(addr)
        self.writes.append((reg, bytes(buf)))
        self.regs[reg:reg + len(buf)] = buf
        if reg == 0xF4 and buf[0] & 0x03 == 0x01:        # forced mode: one conversion, status bit 3 set meanwhile
            self._busy = self.busy_reads


def float_compensation(cal, adc_t, adc_p, adc_h):
    """BST-BME280-DS002 section 8.1, the double-precision compensation: (degC, Pa, %RH)."""
    var1 = (adc_t / 16384.0 - cal["T1"] / 1024.0) * cal["T2"]
    var2 = ((adc_t / 131072.0 - cal["T1"] / 8192.0) * (adc_t / 131072.0 - cal["T1"] / 8192.0)) * cal["T3"]
    t_fine = int(var1 + var2)
    t = (var1 + var2) / 5120.0
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * cal["P6"] / 32768.0
    var2 = var2 + var1 * cal["P5"] * 2.0
    var2 = var2 / 4.0 + cal["P4"] * 65536.0
    var1 = (cal["P3"] * var1 * var1 / 524288.0 + cal["P2"] * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal["P1"]
    if var1 == 0.0:
        p = 0.0
    else:
        p = 1048576.0 - adc_p
        p = (p - var2 / 4096.0) * 6250.0 / var1
        var1 = cal["P9"] * p * p / 2147483648.0
        var2 = p * cal["P8"] / 32768.0
        p = p + (var1 + var2 + cal["P7"]) / 16.0
    h = t_fine - 76800.0
    h = (adc_h - (cal["H4"] * 64.0 + cal["H5"] / 16384.0 * h)) * (
        cal["H2"] / 65536.0 * (1.0 + cal["H6"] / 67108864.0 * h * (1.0 + cal["H3"] / 67108864.0 * h)))
    h = h * (1.0 - cal["H1"] * h / 524288.0)
    h = 100.0 if h > 100.0 else (0.0 if h < 0.0 else h)
    return t, p, h, t_fine


def _driver(bus, **kw):
    sleeps = []
    d = sensors.BME280(bus, "env", "", bus.addr, sleep_ms=sleeps.append, **kw)
    return d, sleeps


def test_bme280_reads_calibration_from_the_register_map():
    d, _ = _driver(FakeBME280Bus())
    assert (d.T1, d.T2, d.T3, d.P1) == (CAL["T1"], CAL["T2"], CAL["T3"], CAL["P1"])
    assert d.P == [CAL["P%d" % i] for i in range(2, 10)]
    assert (d.H1, d.H2, d.H3, d.H4, d.H5, d.H6) == tuple(CAL["H%d" % i] for i in range(1, 7))
    neg = dict(CAL, H4=-300, H5=-7, H6=-12, H2=-5)       # the 12-bit and 8-bit signed fields
    d, _ = _driver(FakeBME280Bus(cal=neg))
    assert (d.H2, d.H4, d.H5, d.H6) == (-5, -300, -7, -12)


def test_bme280_known_answer_of_the_datasheet_example():
    d, sleeps = _driver(FakeBME280Bus())
    t, p, h = d.measure()
    assert t == 2508                                      # 25.08 degC in 0.01 degC
    assert p == 25767233                                  # Pa in Q24.8: 100653.25 Pa (64-bit integer formula)
    ft, fp, fh, t_fine = float_compensation(CAL, ADC_T, ADC_P, ADC_H)
    assert t_fine == 128422
    assert abs(ft - 25.08) < 0.005 and abs(fp - 100653.27) < 0.05     # the example as printed, 2 decimals
    assert abs(h / 1024 - fh) < 0.01, (h / 1024, fh)
    assert sleeps and len(sleeps) == 3                    # polled the busy bit until it cleared (2 busy reads)


def test_bme280_integer_compensation_matches_the_double_formulas():
    # Bounds: the integer outputs' resolution (0.01 degC, 1/256 Pa, 1/1024 %RH) plus the rounding of the datasheet's
    # integer arithmetic: within 0.01 degC, 1 Pa and 0.05 %RH of the double-precision result over the sensor's range.
    bus = FakeBME280Bus()
    d, _ = _driver(bus)
    checked = 0
    for adc_t in range(400000, 620001, 44000):
        for adc_p in range(250000, 560001, 62000):
            for adc_h in (0, 18000, 26000, 34000, 42000, 65535):
                bus.set_adc(adc_t, adc_p, adc_h)
                t, p, h = d.measure()
                ft, fp, fh, _ = float_compensation(CAL, adc_t, adc_p, adc_h)
                assert abs(t / 100 - ft) <= 0.01, (adc_t, t, ft)
                assert abs(p / 256 - fp) <= 1.0, (adc_t, adc_p, p / 256, fp)
                assert abs(h / 1024 - fh) <= 0.05, (adc_t, adc_h, h / 1024, fh)
                assert 0 <= h <= 100 * 1024
                checked += 1
    assert checked == 6 * 6 * 6


def test_bme280_register_protocol_and_read_shapes():
    bus = FakeBME280Bus(addr=0x77)
    d, _ = _driver(bus)
    assert d.read(0) == [("env_t", 25.08, "Cel"), ("env_rh", round(d.measure()[2] / 1024, 1), "%"),
                         ("env_p", 1006.53, "hPa")]
    # ctrl_hum (0xF2) must precede ctrl_meas (0xF4): humidity oversampling takes effect on the ctrl_meas write
    assert bus.writes[:2] == [(0xF2, b"\x01"), (0xF4, b"\x25")]
    one, _ = _driver(bus, quantity="p")
    assert one.read(0) == [("env", 1006.53, "hPa")]
    e = raises(OSError, sensors.BME280, FakeBME280Bus(chip_id=0x58), "env", "", 0x76, sleep_ms=lambda ms: None)
    assert "0x58" in str(e)                               # a BMP280 (no humidity) is refused by its chip id
    raises(OSError, sensors.BME280, FakeBME280Bus(addr=0x77), "env", "", 0x76, sleep_ms=lambda ms: None)


class FakeMachine:
    """The parts of ``machine`` the pulse meter uses: Pin.IRQ_FALLING, disable_irq / enable_irq."""

    class Pin:
        IRQ_FALLING = 2
        IRQ_RISING = 1

    def __init__(self):
        self.irq_state = []

    def disable_irq(self):
        self.irq_state.append("off")
        return 7

    def enable_irq(self, state):
        assert state == 7
        self.irq_state.append("on")


class FakePin:
    def __init__(self):
        self.handler = None
        self.trigger = None

    def irq(self, handler=None, trigger=None):
        self.handler, self.trigger = handler, trigger

    def fall(self):
        self.handler(self)


class Clock:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


def _pulse_meter(**kw):
    fake = FakeMachine()
    old_machine = sys.modules.get("machine")
    old_ticks = sensors.ticks_ms
    clock = Clock()
    sys.modules["machine"] = fake
    sensors.ticks_ms = clock
    try:
        pin = FakePin()
        meter = sensors.PulseMeter(pin, "p", "", **kw)
    except Exception:
        _restore(old_machine, old_ticks)
        raise
    return meter, pin, clock, fake, (old_machine, old_ticks)


def _restore(old_machine, old_ticks):
    sensors.ticks_ms = old_ticks
    if old_machine is None:
        del sys.modules["machine"]
    else:
        sys.modules["machine"] = old_machine


def test_pulse_meter_power_over_the_interval():
    meter, pin, clock, fake, saved = _pulse_meter(imp_per_kwh=1000, quantity="power")
    try:
        assert pin.trigger == FakeMachine.Pin.IRQ_FALLING and pin.handler is not None
        for _ in range(10):                      # 10 pulses of 1 Wh each, 100 ms apart
            clock.t += 100
            pin.fall()
        clock.t = 1000 + 36000                   # read 36 s after the start: 10 Wh in 36 s = 1000 W
        assert meter.read(36) == [("p", 1000.0, "W")]
        assert fake.irq_state == ["off", "on"]   # the count is read with IRQs off
        clock.t += 3600                          # no pulse in the next 3.6 s: 0 W
        assert meter.read(40) == [("p", 0.0, "W")]
        for _ in range(2):
            clock.t += 900
            pin.fall()
        clock.t += 1800                          # 2 Wh in 3.6 s = 2000 W
        assert meter.read(44) == [("p", 2000.0, "W")]
    finally:
        _restore(*saved)


def test_pulse_meter_energy_and_debounce():
    meter, pin, clock, fake, saved = _pulse_meter(imp_per_kwh=800, quantity="energy", debounce_ms=20)
    try:
        clock.t += 5
        pin.fall()                               # 5 ms after boot: within the debounce window of the boot tick
        assert meter.count == 0
        clock.t += 20
        pin.fall()                               # counted
        t0 = clock.t
        for dt in (1, 5, 15, 19):                # contact bounce within 20 ms of the counted edge: ignored
            clock.t = t0 + dt
            pin.fall()
        assert meter.count == 1
        clock.t = t0 + 20                        # 20 ms after the counted edge (not after the last bounce)
        pin.fall()
        assert meter.count == 2
        for _ in range(398):                     # 400 pulses in all at 800 imp/kWh = 500 Wh
            clock.t += 250
            pin.fall()
        assert meter.read(0) == [("p", 500.0, "Wh")]
    finally:
        _restore(*saved)


def test_pulse_meter_ticks_wrap_around():
    # MicroPython's ticks_ms wraps (a power of two); edges across the wrap still debounce by ticks_diff
    meter, pin, clock, fake, saved = _pulse_meter(imp_per_kwh=1000, quantity="energy", debounce_ms=20)
    try:
        period = 0x40000000 if sys.implementation.name != "micropython" else None
        if period is None:                       # the port's own ticks period: ticks_add(0, -1) + 1
            from time import ticks_add
            period = ticks_add(0, -1) + 1
        clock.t = period - 30
        meter._last_edge = clock.t - 100
        pin.fall()
        clock.t = 5                              # 35 ms later across the wrap: counted
        pin.fall()
        clock.t = 15                             # 10 ms later: a bounce
        pin.fall()
        assert meter.count == 2
    finally:
        _restore(*saved)
