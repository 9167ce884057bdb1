// Runs firmware_notes/bangle2/twitchwatch-imu.js under Node.js with a small mock of the
// Espruino globals it uses (NRF, Bangle, E, g, getTime, setInterval), drives it through the
// control characteristic and a stream of simulated accelerometer polls, and prints one JSON
// object a line for tests/test_firmware.py to check with sensor.open_imu:
//
//   {"kind": "ctrl", "hex": ...}     a notification of the control characteristic
//   {"kind": "data", "hex": ...}     a notification of the data characteristic
//   {"kind": "step", "name": ...}    where the script is (the lines after belong to it)
//   {"kind": "meta", ...}            the truth: poll grid, which polls raised an event, ...
//
// Usage: node bangle_harness.js APP.js '{"rate": 100, "range": 4, "polls": 3000,
//        "busy": 0.02, "lateness": 0.6, "jump_at": 1500, "seed": 1}'
//
// Espruino behaviour mirrored (libs/banglejs/jswrap_bangle.c): one 'accel' event per poll,
// raised late by the interpreter; a poll whose event is still pending when the next poll
// comes is overwritten (coalesced), so "busy" polls raise no event of their own.
"use strict";
const fs = require("fs");
const vm = require("vm");

const appPath = process.argv[2];
const cfg = Object.assign({ rate: 100, range: 4, polls: 2000, busy: 0.02, lateness: 0.6,
  jump_at: -1, seed: 1 }, JSON.parse(process.argv[3] || "{}"));

function mulberry32(a) {
  return function () {
    a |= 0; a = a + 0x6D2B79F5 | 0;
    let t = Math.imul(a ^ a >>> 15, 1 | a);
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
    return ((t ^ t >>> 14) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(cfg.seed);
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const hex = (v) => Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v)
  : (ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v))
  .toString("hex");
const key = (u) => String(u).toLowerCase();

// ---- the mock --------------------------------------------------------------------------
let nowUs = 5e6;          // true time since boot, microseconds
let wallOffsetS = 1.7e9;  // getTime() is wall-clock seconds; a setTime moves this
const state = { services: null, serviceOpts: null, advertising: null, pollMs: 80,
  powerSave: true, accelWrites: [], listeners: {}, nrfListeners: {}, intervals: [],
  kx: { 0x18: 0xEC, 0x1B: 0x00 }, rejected: 0 };

function findChar(uuid) {
  for (const s of Object.keys(state.services || {}))
    for (const c of Object.keys(state.services[s]))
      if (key(c) === key(uuid)) return state.services[s][c];
  return null;
}

const NRF = {
  setServices(s, opts) { state.services = s; state.serviceOpts = opts; },
  setAdvertising(data, opts) { state.advertising = opts; },
  on(ev, fn) { state.nrfListeners[ev] = fn; },
  updateServices(u) {
    for (const s of Object.keys(u)) for (const c of Object.keys(u[s])) {
      const ch = findChar(c);
      if (!ch) throw new Error("unknown characteristic " + c);
      const v = u[s][c].value;
      const len = (v.byteLength !== undefined) ? v.byteLength : v.length;
      if (len > (ch.maxLen || 20)) { state.rejected++; throw new Error("value longer than maxLen"); }
      ch.value = v;
      if (u[s][c].notify) {
        const kind = key(c) === "74770003-7477-4a8e-9d3f-5c1e2b3a4d00" ? "data"
          : key(c) === "74770002-7477-4a8e-9d3f-5c1e2b3a4d00" ? "ctrl" : "other:" + c;
        out({ kind, hex: hex(v) });
      }
    }
  },
};
const Bangle = {
  setPollInterval(ms) { if (ms < 10) throw new Error("Invalid interval"); state.pollMs = ms; state.powerSave = false; },
  setOptions(o) { if ("powerSave" in o) state.powerSave = !!o.powerSave; },
  setLCDTimeout() {},
  on(ev, fn) { (state.listeners[ev] = state.listeners[ev] || []).push(fn); },
  removeListener(ev, fn) { state.listeners[ev] = (state.listeners[ev] || []).filter((f) => f !== fn); },
  accelRd(reg) { return state.kx[reg] | 0; },
  accelWr(reg, v) { state.kx[reg] = v; state.accelWrites.push([reg, v]); },
};
const g = new Proxy({}, { get: (t, p) => (p === "getWidth" || p === "getHeight") ? () => 176 : () => g });
const context = {
  NRF, Bangle, g, E: { getBattery: () => 73 }, getTime: () => nowUs / 1e6 + wallOffsetS,
  setInterval: (fn, ms) => { state.intervals.push([fn, ms]); return state.intervals.length; },
  clearInterval: () => {}, print: () => {}, console, Math, DataView, Uint8Array, Int16Array,
  ArrayBuffer,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(appPath, "utf8"), context, { filename: appPath });

// ---- the script ------------------------------------------------------------------------
const write = (bytes) => findChar("74770002-7477-4a8e-9d3f-5c1e2b3a4d00")
  .onWrite({ data: new Uint8Array(bytes).buffer });
const step = (name) => out({ kind: "step", name });
const accel = (k) => (state.listeners.accel || []).forEach((fn) => fn({
  x: (k & 0x7fff) / 8192, y: ((k >> 15) & 0x7fff) / 8192, z: -1.0, diff: 0, mag: 1 }));

step("info"); write([3]);
step("bad"); write([9]); write([]); write([1, 100, 0]);
step("refused"); write([1, 100, 0, 4, 1]); write([1, 200, 0, 4, 0]); write([1, 100, 0, 16, 0]);
write([1, 0, 0, 4, 0]);
step("start"); write([1, cfg.rate & 0xff, cfg.rate >> 8, cfg.range, 0]);
const startPollMs = state.pollMs, startKx = Object.assign({}, state.kx);
step("start-again"); write([1, cfg.rate & 0xff, cfg.rate >> 8, cfg.range, 0]);
step("stream");
const periodUs = state.pollMs * 1000;
const s0 = nowUs + 1234.5;  // the poll grid, on the device clock
const delivered = [];
for (let k = 0; k < cfg.polls; k++) {
  if (k === cfg.jump_at) wallOffsetS += 3600;          // a phone sets the clock
  if (rand() < cfg.busy) continue;                     // busy: this poll's event is overwritten
  nowUs = s0 + k * periodUs + rand() * cfg.lateness * periodUs;
  delivered.push(k);
  accel(k);
}
step("stop"); nowUs += 2 * periodUs; write([2]);
const afterStop = { pollMs: state.pollMs, powerSave: state.powerSave, kx: Object.assign({}, state.kx) };
accel(999999);  // nobody listens any more: no data
step("stop-again"); write([2]);
step("disconnect"); if (state.nrfListeners.disconnect) state.nrfListeners.disconnect();
step("battery-timer"); state.intervals.forEach(([fn]) => fn());
const battery = findChar(0x2A19) || findChar("2a19");
out({ kind: "meta", poll_ms_at_start: startPollMs, kx_at_start: startKx, after_stop: afterStop,
  period_us: periodUs, s0_us: s0, delivered, rejected: state.rejected,
  advertising: state.advertising, service_opts: state.serviceOpts,
  battery_value: battery ? Array.from(battery.value) : null,
  intervals_ms: state.intervals.map(([, ms]) => ms) });
