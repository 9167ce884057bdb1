/* twitchwatch IMU for the Bangle.js 2 (Espruino).

Streams the accelerometer (KX023) over the open "twitchwatch IMU" GATT profile, version 1:
firmware_notes/open-imu-profile.md in the twitchwatch repository. Upload and traps:
firmware_notes/bangle2/README.md.

How it works:
- Espruino reads the KX023 every poll interval (Bangle.setPollInterval, whole milliseconds,
  10 ms at least) and raises one 'accel' event with the newest reading. START sets the poll
  interval to the requested rate (12.5, 25, 50 or 100 Hz) and the KX023 output rate to four
  times that (its ODR/9 filter is then the anti-alias filter of the poll).
- The poll timer runs on the same clock as getTime(), so the poll period is exact on the
  device clock. Each event is put on the poll grid: slot = floor((t - origin) / period), where
  origin follows the earliest event seen (an event can only come late, never early).
- If the interpreter is busy for more than a poll, Espruino raises one event for several
  polls: the skipped slots are lost samples. The packet in progress is then sent and the
  next one starts at its own time, as the profile asks.
- Samples are sent raw: Espruino divides the KX023's 16-bit reading by 8192, so the app
  multiplies back. LSB 61/122/244 ug at +-2/4/8 g.
*/
(function () {
  var SVC = "74770001-7477-4a8e-9d3f-5c1e2b3a4d00";
  var CTRL = "74770002-7477-4a8e-9d3f-5c1e2b3a4d00";
  var DATA = "74770003-7477-4a8e-9d3f-5c1e2b3a4d00";
  var VERSION = 1, HEADER = 20;
  // Espruino's MTU on the Bangle.js 2 is 131: 128 bytes a notification, 18 samples.
  var MAX_PAYLOAD = 128, MAX_N = Math.floor((MAX_PAYLOAD - HEADER) / 6);
  // rate (Hz, what INFO and the rounding see), poll interval (ms), KX023 ODCNTL (4x the poll)
  var RATES = [
    { hz: 12.5, ms: 80, odr: 0x02 },
    { hz: 25, ms: 40, odr: 0x03 },
    { hz: 50, ms: 20, odr: 0x04 },
    { hz: 100, ms: 10, odr: 0x05 }
  ];
  // range (g) -> KX023 CNTL1 GSEL bits and LSB in micro-g
  var RANGES = [
    { g: 2, gsel: 0x00, lsb: 61 },
    { g: 4, gsel: 0x08, lsb: 122 },
    { g: 8, gsel: 0x10, lsb: 244 }
  ];
  var KX_CNTL1 = 0x18, KX_ODCNTL = 0x1B;
  var ST_OK = 0, ST_BAD_RATE = 1, ST_BAD_RANGE = 2, ST_NO_GYRO = 3, ST_STREAMING = 4,
    ST_BAD_COMMAND = 5;

  var streaming = false, rate = null, range = null;
  var seq = 0, buf = new Int16Array(MAX_N * 3), n = 0, firstSlot = 0, lastSlot = -1;
  var origin = 0, prevEnd = -1;  // device time (us) of slot 0, and of the last sample sent
  var saved = null;              // KX023 registers and poll settings to restore on STOP
  var sent = 0, dropped = 0;

  // Device clock in microseconds since the app started: getTime() made monotonic. A step of
  // the wall clock (setTime from a phone) is taken out, so the device time never goes back:
  // a step back, or one of more than 10 s between two events, counts as `expectedS` (one
  // poll) of real time. Smaller forward steps stay in; the recorder sees them as a clock jump.
  var lastRaw = null, offset = -getTime();
  function deviceMicros(expectedS) {
    var raw = getTime();
    if (lastRaw !== null) {
      var d = raw - lastRaw;
      if (d < 0 || d > 10) offset -= d - expectedS;
    }
    lastRaw = raw;
    return (raw + offset) * 1e6;
  }

  function battery() {
    var b = E.getBattery();
    return (b >= 0 && b <= 100) ? Math.round(b) : 255;
  }

  function notify(uuid, bytes) {
    var u = {};
    u[SVC] = {};
    u[SVC][uuid] = { value: bytes, notify: true };
    try {
      NRF.updateServices(u);
      return true;
    } catch (e) {
      return false;  // no room in the radio queue, or not subscribed: the packet is lost
    }
  }

  function sendPacket() {
    if (!n) return;
    var period = rate.ms * 1000;                 // us
    var t0 = origin + firstSlot * period;        // us
    if (prevEnd >= 0 && t0 < prevEnd + period / 2) t0 = prevEnd + period / 2;
    t0 = Math.floor(t0);
    var pkt = new Uint8Array(HEADER + 6 * n);
    var dv = new DataView(pkt.buffer);
    pkt[0] = VERSION;
    pkt[1] = 0;
    dv.setUint16(2, seq & 0xFFFF, true);
    dv.setUint32(4, t0 % 4294967296, true);
    dv.setUint32(8, Math.floor(t0 / 4294967296), true);
    dv.setUint32(12, rate.ms * 1000000, true);   // ns
    dv.setUint16(16, range.lsb, true);
    pkt[18] = n;
    pkt[19] = 0;
    for (var i = 0; i < 3 * n; i++) dv.setInt16(HEADER + 2 * i, buf[i], true);
    if (notify(DATA, pkt)) sent++; else dropped++;
    seq = (seq + 1) & 0xFFFF;                    // a lost packet still uses its number
    prevEnd = t0 + (n - 1) * period;
    n = 0;
  }

  function raw16(g) {
    var v = Math.round(g * 8192);
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
  }

  function onAccel(a) {
    if (!streaming) return;
    var period = rate.ms * 1000;
    var now = deviceMicros(rate.ms / 1000);
    var slot;
    if (lastSlot < 0) {
      origin = now;
      slot = 0;
    } else {
      slot = Math.floor((now - origin) / period);
      if (slot <= lastSlot) slot = lastSlot + 1;  // origin was too late: one event per poll
      if (now - slot * period < origin) origin = now - slot * period;
    }
    if (n && slot !== lastSlot + 1) sendPacket();  // polls lost while busy: new packet
    if (!n) firstSlot = slot;
    buf[3 * n] = raw16(a.x);
    buf[3 * n + 1] = raw16(a.y);
    buf[3 * n + 2] = raw16(a.z);
    n++;
    lastSlot = slot;
    if (n >= MAX_N) sendPacket();
  }

  function applySensor() {
    saved = { cntl1: Bangle.accelRd(KX_CNTL1), odcntl: Bangle.accelRd(KX_ODCNTL) };
    var cntl1 = (saved.cntl1 & ~0x18) | range.gsel;
    Bangle.accelWr(KX_CNTL1, cntl1 & 0x7F);      // standby (PC1=0) to change settings
    Bangle.accelWr(KX_ODCNTL, rate.odr);         // ODR 4x the poll, IIR filter at ODR/9
    Bangle.accelWr(KX_CNTL1, cntl1 | 0x80);      // operating again
    Bangle.setPollInterval(rate.ms);
  }

  function restoreSensor() {
    if (!saved) return;
    Bangle.accelWr(KX_CNTL1, saved.cntl1 & 0x7F);
    Bangle.accelWr(KX_ODCNTL, saved.odcntl);
    Bangle.accelWr(KX_CNTL1, saved.cntl1);
    Bangle.setPollInterval(80);                  // Espruino's default (12.5 Hz)
    Bangle.setOptions({ powerSave: true });      // setPollInterval switched it off
    saved = null;
  }

  function start(rateHz, rangeG, gyro) {
    if (streaming) return ST_STREAMING;
    var r = null, g = null, i;
    for (i = 0; i < RATES.length && !r; i++) if (rateHz > 0 && RATES[i].hz >= rateHz) r = RATES[i];
    if (!r) return ST_BAD_RATE;
    for (i = 0; i < RANGES.length && !g; i++) if (rangeG > 0 && RANGES[i].g >= rangeG) g = RANGES[i];
    if (!g) return ST_BAD_RANGE;
    if (gyro) return ST_NO_GYRO;                 // the Bangle.js 2 has none
    rate = r;
    range = g;
    seq = 0;
    n = 0;
    lastSlot = -1;
    prevEnd = -1;
    applySensor();
    streaming = true;
    Bangle.on('accel', onAccel);
    return ST_OK;
  }

  function stop() {
    if (!streaming) return;
    streaming = false;
    Bangle.removeListener('accel', onAccel);
    sendPacket();
    restoreSensor();
  }

  function onControl(evt) {
    var d = new Uint8Array(evt.data);
    var cmd = d.length ? d[0] : 0;
    var status = ST_BAD_COMMAND;
    if (cmd === 1 && d.length === 5) status = start(d[1] | (d[2] << 8), d[3], d[4]);
    else if (cmd === 2 && d.length === 1) { stop(); status = ST_OK; }
    else if (cmd === 3 && d.length === 1) {
      // version, max rate (u16), ranges bitmap (2/4/8 g), has_gyro, battery
      notify(CTRL, [0xF1, 3, ST_OK, VERSION, 100, 0, 0x07, 0, battery()]);
      return;
    }
    notify(CTRL, [0xF1, cmd, status]);
    draw();
  }

  function draw() {
    g.clear();
    g.setFont("6x8", 2);
    g.setFontAlign(0, 0);
    g.drawString("twitchwatch IMU", g.getWidth() / 2, 40);
    g.drawString(streaming ? ("streaming " + rate.hz + " Hz") : "waiting", g.getWidth() / 2, 90);
  }

  var services = {};
  services[SVC] = {};
  services[SVC][CTRL] = { value: [0], maxLen: 10, writable: true, notify: true, onWrite: onControl };
  services[SVC][DATA] = { value: [0], maxLen: MAX_PAYLOAD, notify: true };
  services[0x180F] = { 0x2A19: { value: [battery()], readable: true, notify: true } };
  // uart stays on: without it the Web IDE cannot reach the watch to replace this app
  NRF.setServices(services, { advertise: [SVC], uart: true });
  NRF.setAdvertising({}, { name: "TW-IMU" });
  NRF.on('disconnect', function () { stop(); draw(); });
  setInterval(function () {
    var u = {};
    u[0x180F] = { 0x2A19: { value: [battery()], notify: true } };
    try { NRF.updateServices(u); } catch (e) { /* not connected */ }
  }, 60000);
  Bangle.setLCDTimeout(10);
  draw();
})();
