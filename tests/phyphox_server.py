"""A small phyphox stand-in that follows phyphox's documented remote-access interface.

Endpoints and semantics as phyphox-android's RemoteServer.java serves them (see
sensor/wifi/phyphox_client.py): ``/config``, ``/get`` (``name=`` last value, ``name=full``,
``name=<t>|<ref>`` with the server's threshold nudge of 10^floor(log10(|t|/1e7)) and values
printed with 8 significant digits), ``/time`` (START / PAUSE references), ``/control``
(start, stop, clear).

It runs the "Acceleration with g" experiment (m/s^2) on a virtual clock ``speed`` times
faster than the event loop's, producing samples at ``rate`` Hz of experiment time while
measuring.  Faults, in virtual seconds after the first start:

* ``stalls=[(at, dur)]``: the sensor delivers nothing (those samples never exist);
* ``drops=[(at, dur)]``: the phone is unreachable (connections are cut); it keeps
  measuring, so nothing is lost;
* ``restarts=[at]``: the experiment is cleared and started again (experiment time from 0,
  new START); samples not yet fetched are gone.

Every sample that existed is in ``produced`` with its true UTC time; ``lost_in_restart``
holds those cleared before anyone fetched them.
"""
from __future__ import annotations

import asyncio
import math

import numpy as np
from aiohttp import web

G = 9.80665


def fmt(v: float) -> str:
    """phyphox's DecimalFormat '0.#######E0': 8 significant digits."""
    if not math.isfinite(v):
        return "null"
    return f"{v:.7E}"


class PhyphoxStandIn:
    def __init__(self, *, rate=100.0, speed=10.0, utc0=1_764_000_000.0, stalls=(), drops=(), restarts=()):
        self.rate, self.speed, self.utc0 = rate, speed, utc0
        self.stalls, self.drops, self.restarts = list(stalls), list(drops), sorted(restarts)
        self.session = "1a2b3c"
        self.measuring = False
        self.refs: list[dict] = []
        self.t: list[float] = []
        self.xyz: list[tuple] = []
        self.k_next = 0                 # index of the next sample of this run
        self.first_start_v: float | None = None
        self.produced: list[tuple] = []    # (utc, x, y, z) m/s^2
        self.lost_in_restart: list[tuple] = []
        self.served_max_te = -math.inf
        self.stop_requests = 0
        self.requests = 0
        self._mono0 = None
        self._runner = None
        self.port = None

    # ------------------------------------------------------------------ clock & data
    def vnow(self) -> float:
        loop = asyncio.get_running_loop()
        if self._mono0 is None:
            self._mono0 = loop.time()
        return self.utc0 + (loop.time() - self._mono0) * self.speed

    def _rel(self) -> float:
        return -1.0 if self.first_start_v is None else self.vnow() - self.first_start_v

    def _last_start(self):
        return next(r for r in reversed(self.refs) if r["event"] == "START")

    def _te_now(self) -> float:
        if not self.refs:
            return 0.0
        last = self.refs[-1]
        if last["event"] != "START":
            return last["experimentTime"]
        return last["experimentTime"] + (self.vnow() - last["systemTime"])

    @staticmethod
    def values(te: float) -> tuple:
        return (0.5 * math.sin(te), 0.2 * math.cos(3 * te), G + 0.05 * math.sin(17 * te))

    def _fill(self) -> None:
        """Produce every sample up to now (lazy: on each request), restarts first."""
        while self.restarts and self.first_start_v is not None and self._rel() >= self.restarts[0]:
            at_v = self.first_start_v + self.restarts.pop(0)
            self._produce_until(at_v)
            for te, v in zip(self.t, self.xyz):
                if te > self.served_max_te:
                    st = self._last_start()
                    self.lost_in_restart.append((st["systemTime"] + te - st["experimentTime"], *v))
            self.t, self.xyz, self.refs, self.k_next = [], [], [], 0
            self.served_max_te = -math.inf
            self.refs.append({"event": "START", "experimentTime": 0.0, "systemTime": round(at_v, 3)})
        if self.measuring:
            self._produce_until(self.vnow())

    def _produce_until(self, v_end: float) -> None:
        st = self._last_start()
        te_end = st["experimentTime"] + (v_end - st["systemTime"])
        while self.k_next / self.rate <= te_end:
            te = self.k_next / self.rate
            self.k_next += 1
            utc = st["systemTime"] + te - st["experimentTime"]
            rel = utc - self.first_start_v
            if any(a <= rel < a + d for a, d in self.stalls):
                continue
            v = self.values(te)
            self.t.append(te)
            self.xyz.append(v)
            self.produced.append((utc, *v))

    def _down(self) -> bool:
        rel = self._rel()
        return any(a <= rel < a + d for a, d in self.drops)

    # ------------------------------------------------------------------ HTTP
    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/config", self.config)
        app.router.add_get("/get", self.get)
        app.router.add_get("/time", self.time)
        app.router.add_get("/control", self.control)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.vnow()
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request, handler):
        self.requests += 1
        if self._down():
            request.transport.abort()     # the phone is gone: the connection is cut
            raise web.HTTPServiceUnavailable()
        self._fill()
        return await handler(request)

    async def config(self, request):
        return web.json_response({
            "crc32": "8d0e2a41", "title": "Acceleration with g", "localTitle": "Acceleration with g",
            "category": "Raw Sensors", "localCategory": "Raw Sensors",
            "buffers": [{"name": n, "size": 0} for n in ("accX", "accY", "accZ", "acc", "acc_time")],
            "inputs": [{"source": "accelerometer",
                        "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"abs": "acc"},
                                    {"t": "acc_time"}]}],
            "export": []})

    async def get(self, request):
        t = np.array(self.t)
        xyz = np.array(self.xyz).reshape(-1, 3)
        cols = {"acc_time": t, "accX": xyz[:, 0], "accY": xyz[:, 1], "accZ": xyz[:, 2],
                "acc": np.linalg.norm(xyz, axis=1)}
        parts = []
        for name, value in request.query.items():
            if name not in cols:
                continue
            data = cols[name]
            if value == "":
                mode, body = "single", fmt(float(data[-1])) if data.size else "null"
            elif value == "full":
                mode, body = "full", ",".join(fmt(float(v)) for v in data)
                if name == "acc_time" and data.size:
                    self.served_max_te = max(self.served_max_te, float(data[-1]))
            else:
                th_s, _, ref = value.partition("|")
                try:
                    th = float(th_s)
                except ValueError:
                    return web.json_response({"error": "Invalid threshold."}, status=400)
                if th != 0:
                    th += 10 ** math.floor(math.log10(abs(th) / 1e7))
                refdata = cols.get(ref or name)
                if refdata is None:
                    return web.json_response({"error": "Unknown reference buffer."}, status=400)
                sel = data[refdata > th]
                mode, body = "partial", ",".join(fmt(float(v)) for v in sel)
                if name == "acc_time" and sel.size:
                    self.served_max_te = max(self.served_max_te, float(sel[-1]))
            parts.append(f'"{name}":{{"size":0,"updateMode":"{mode}", "buffer":[{body}]}}')
        text = ('{"buffer":{\n' + ",\n".join(parts) + '\n},\n"status":{\n"session":"' + self.session
                + f'", "measuring":{str(self.measuring).lower()}, "timedRun":false, "countDown":0\n}}\n}}\n')
        return web.Response(text=text, content_type="application/json")

    async def time(self, request):
        return web.json_response(self.refs)

    async def control(self, request):
        cmd = request.query.get("cmd")
        now = round(self.vnow(), 3)
        if cmd == "start":
            if not self.measuring:
                self.refs.append({"event": "START", "experimentTime": self._te_now(), "systemTime": now})
                if self.first_start_v is None:
                    self.first_start_v = now
                self.measuring = True
            return web.json_response({"result": True})
        if cmd == "stop":
            self.stop_requests += 1
            if self.measuring:
                self._fill()
                self.refs.append({"event": "PAUSE", "experimentTime": self._te_now(), "systemTime": now})
                self.measuring = False
            return web.json_response({"result": True})
        if cmd == "clear":
            self.t, self.xyz, self.refs, self.k_next = [], [], [], 0
            return web.json_response({"result": True})
        return web.json_response({"result": False})
