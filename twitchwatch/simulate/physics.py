"""Waveforms of a night: orientation (gravity in the sensor frame) plus dynamic accelerations.

Conventions: time in seconds, acceleration in g, arrays of vectors have shape (n, 3) in the
sensor frame. A still sensor reads the unit "gravity vector" g (the reaction to gravity);
movements add a dynamic acceleration. Event waveforms are functions of the time since the
event onset so that an event can be moved while it is being placed.

Three unit shapes, each a function of tau in [0, 1] with peak |value| = 1:
  excursion: 2nd derivative of a sin^4 displacement bump (out and back; triphasic) - jerks;
  reach:     2nd derivative of a minimum-jerk step (moves to a new place; biphasic) - repositioning;
  pulse:     sin^2, one-signed deceleration - the hand landing on the mattress.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

EXCURSION, REACH, PULSE = 0, 1, 2
ANKLE_AWAKE_GAIN = 0.3  # legs wander less than a hand holding a phone (assumption)


def _excursion(tau):
    s2 = np.sin(np.pi * tau) ** 2  # x = sin^4(pi tau); x'' / (4 pi^2) = 3 s^2 c^2 - s^4
    return 3.0 * s2 * (1.0 - s2) - s2 * s2


def _reach(tau):  # minimum-jerk 10t^3-15t^4+6t^5; peak of x'' is 10/sqrt(3)
    return (60.0 * tau - 180.0 * tau ** 2 + 120.0 * tau ** 3) / (10.0 / math.sqrt(3.0))


def _pulse(tau):
    return np.sin(np.pi * tau) ** 2


SHAPES = (_excursion, _reach, _pulse)


def unit(v: np.ndarray) -> np.ndarray:
    """Normalise vectors along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def random_unit(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    """Isotropic random unit vector(s), shape (3,) or (n, 3)."""
    return unit(rng.standard_normal(3 if n is None else (n, 3)))


def loguniform(rng: np.random.Generator, lo_hi, size=None):
    lo, hi = lo_hi
    if lo <= 0 or lo == hi:
        return rng.uniform(lo, hi, size)
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size))


# --- parts of an event: callables x (s since onset, sorted, shape (n,)) -> (n, 3) g -------

@dataclass
class Bumps:
    """Sum of unit shapes: shape[i] over [start[i], start[i]+width[i]] along vec[i] (g)."""
    start: np.ndarray
    width: np.ndarray
    vec: np.ndarray  # (k, 3)
    shape: np.ndarray  # (k,) of EXCURSION | REACH | PULSE

    @property
    def finest(self) -> float:
        return float(self.width.min())

    def __call__(self, x):
        out = np.zeros((len(x), 3))
        for st, w, v, sh in zip(self.start, self.width, self.vec, self.shape):
            i0, i1 = np.searchsorted(x, (st, st + w))
            out[i0:i1] += SHAPES[sh]((x[i0:i1] - st) / w)[:, None] * v
        return out


@dataclass
class Ring:
    """Damped sine from `start`: soft tissue and strap ringing after a jerk or an impact.
    Tapered by (1 - y/L)^2 over L = 5 tau so that it ends without a step."""
    start: float
    hz: float
    tau: float
    vec: np.ndarray

    @property
    def finest(self) -> float:
        return 1.0 / self.hz

    @property
    def length(self) -> float:
        return 5.0 * self.tau

    def __call__(self, x):
        out = np.zeros((len(x), 3))
        i0, i1 = np.searchsorted(x, (self.start, self.start + self.length))
        y = x[i0:i1] - self.start
        w = np.exp(-y / self.tau) * np.sin(2 * np.pi * self.hz * y) * (1 - y / self.length) ** 2
        out[i0:i1] = w[:, None] * self.vec
        return out


@dataclass
class Burst:
    """Oscillation burst over [0, dur]: components sin(2 pi f (y + d/(2 pi fm) sin(2 pi fm y)))
    (frequency wobbling by +-d), smooth ramps, slow amplitude modulation (scratch, tremor,
    partner)."""
    dur: float
    freq: np.ndarray
    amp: np.ndarray
    phase: np.ndarray
    vec: np.ndarray  # (k, 3)
    fm_hz: float
    fm_depth: float
    am_hz: float
    am_depth: float
    ramp: float

    @property
    def finest(self) -> float:
        return 1.0 / float(self.freq.max() * (1 + self.fm_depth))

    def __call__(self, x):
        out = np.zeros((len(x), 3))
        i0, i1 = np.searchsorted(x, (0.0, self.dur))
        y = x[i0:i1]
        env = np.sin(0.5 * np.pi * np.clip(np.minimum(y, self.dur - y) / self.ramp, 0, 1)) ** 2
        env *= 1 + self.am_depth * np.sin(2 * np.pi * self.am_hz * y + self.phase[0])
        wob = self.fm_depth / (2 * np.pi * self.fm_hz) * np.sin(2 * np.pi * self.fm_hz * y)
        for f, a, p, v in zip(self.freq, self.amp, self.phase, self.vec):
            out[i0:i1] += (a * env * np.sin(2 * np.pi * f * (y + wob) + p))[:, None] * v
        return out


@dataclass
class Rotation:
    """Orientation change of an event. The rotation axis is cross(g_before, ref), so gravity
    tilts by exactly `angle` rad. Progress is a sum of smooth steps (irregular sub-movements,
    weights w) or, when out_and_back, sin^2 over [0, dur] (returns to the start)."""
    angle: float
    ref: np.ndarray
    start: np.ndarray = field(default_factory=lambda: np.zeros(1))
    width: np.ndarray = field(default_factory=lambda: np.ones(1))
    weight: np.ndarray = field(default_factory=lambda: np.ones(1))
    out_and_back: float = 0.0  # duration of the out-and-back tilt, 0 for a step

    @property
    def final(self) -> float:
        return 0.0 if self.out_and_back else 1.0

    def progress(self, x):
        if self.out_and_back:
            return np.sin(np.pi * np.clip(x / self.out_and_back, 0, 1)) ** 2
        p = np.zeros(len(x))
        for st, w, k in zip(self.start, self.width, self.weight):
            p += k * (1 - np.cos(np.pi * np.clip((x - st) / w, 0, 1))) / 2
        return p / self.weight.sum()


@dataclass
class Event:
    """One truth event. `parts` are scaled so that the continuous-time peak of their
    |acceleration| equals `amp` (g); `fixed` parts (impacts) keep their own amplitude."""
    kind: str
    duration: float
    amp: float
    parts: list
    fixed: list = field(default_factory=list)
    rotation: Rotation | None = None
    onset: float = 0.0  # s since recording start, true time
    cluster_id: str = ""
    series_id: str = ""
    scale: float = 1.0
    peak_g: float = float("nan")  # continuous-time peak of |dynamic acceleration|
    peak_sampled_g: float = float("nan")  # the same at the sample instants

    def accel(self, t: np.ndarray) -> np.ndarray:
        """Dynamic acceleration (n, 3) g at absolute times t (s since recording start)."""
        x = t - self.onset
        out = np.zeros((len(t), 3))
        for p in self.parts:
            out += p(x)
        out *= self.scale
        for p in self.fixed:
            out += p(x)
        return out

    def _peak(self) -> float:
        """Continuous-time peak of |accel|: grid of 64 points per shortest feature, then
        64 times finer around the maximum (relative error < 1e-6)."""
        dt = min(p.finest for p in self.parts + self.fixed) / 64.0
        x = np.arange(0.0, self.duration + dt, dt) + self.onset
        m = np.linalg.norm(self.accel(x), axis=1)
        xc = x[int(m.argmax())]
        return float(max(m.max(), np.linalg.norm(
            self.accel(np.linspace(xc - dt, xc + dt, 129)), axis=1).max()))

    def finalize(self) -> "Event":
        """Scale `parts` so their peak is `amp`; peak_g is the peak with `fixed` parts."""
        self.scale = 1.0
        fixed, self.fixed = self.fixed, []
        peak = self._peak()
        self.scale = self.amp / peak if peak > 0 else 0.0
        self.fixed = fixed
        self.peak_g = self._peak() if fixed else self.amp
        return self


# --- event constructors (onset 0; the planner moves them) --------------------------------

def _ring(rng, s, fs, start, main_vec, rel):
    hz = min(rng.uniform(*s.jerk_ringdown_hz), 0.4 * fs)
    vec = unit(main_vec + 0.5 * random_unit(rng)) * rel
    return Ring(start, hz, rng.uniform(*s.jerk_ringdown_tau_s), vec)


def make_jerk(rng, s, fs) -> Event:
    """Brief limb excursion: one excursion bump, random 3D direction, optional ring-down,
    tilt of 0..jerk_max_tilt_deg during the bump."""
    d = rng.uniform(*s.jerk_duration_s)
    vec = random_unit(rng)
    parts = [Bumps(np.zeros(1), np.array([d]), vec[None], np.array([EXCURSION]))]
    dur = d
    if rng.random() < s.jerk_ringdown_prob:
        parts.append(_ring(rng, s, fs, d, vec, rng.uniform(*s.jerk_ringdown_rel)))
        dur += parts[-1].length
    rot = Rotation(math.radians(rng.uniform(0, s.jerk_max_tilt_deg)), random_unit(rng),
                   width=np.array([d]))
    return Event("jerk", dur, float(loguniform(rng, s.jerk_amp_range_g)), parts, rotation=rot)


def make_hypnic(rng, s, fs) -> Event:
    """Whole-body start: 2-3 limb excursions within 75-250 ms, always a ring-down."""
    d = rng.uniform(*s.hypnic_duration_s)
    k = int(rng.integers(2, 4))  # limbs felt at the sensor (assumption)
    w = rng.uniform(0.5, 1.0, k) * d
    st = rng.uniform(0, 1, k) * (d - w)
    st[0], w[0] = 0.0, d  # the longest limb spans the whole event
    vec = random_unit(rng, k) * rng.uniform(0.4, 1.0, (k, 1))  # relative strength (assumption)
    ring = _ring(rng, s, fs, d, vec[0], rng.uniform(*s.jerk_ringdown_rel))
    parts = [Bumps(st, w, vec, np.full(k, EXCURSION)), ring]
    rot = Rotation(math.radians(rng.uniform(0, s.hypnic_max_tilt_deg)), random_unit(rng),
                   width=np.array([d]))
    amp = float(loguniform(rng, s.hypnic_amp_range_g))
    return Event("hypnic_jerk", d + ring.length, amp, parts, rotation=rot)


def _submovements(rng, dur, per_s, width_range):
    """Irregular sub-movements filling [0, dur]: starts, widths (s), relative weights."""
    k = max(1, int(rng.poisson(dur * per_s)))
    w = np.minimum(rng.uniform(*width_range, k), dur)
    st = rng.uniform(0, 1, k) * (dur - w)
    st[0] = 0.0
    if k > 1:
        st[-1] = dur - w[-1]
    return st, w, loguniform(rng, (0.2, 1.0), k)


def make_movement(rng, kind, dur, amp, angle_deg, sub_width=(0.3, 2.0)) -> Event:
    """Repositioning (limb, posture shift, awake arm movement): reach sub-movements in
    random directions, each also advancing the rotation by a random share. Assumption:
    about one sub-movement per 2 s, each a bell-shaped reach of 0.3-2 s (voluntary-like
    movements are slower than the 50-250 ms of a jerk)."""
    st, w, k = _submovements(rng, dur, 0.5, sub_width)
    n = len(st)
    parts = [Bumps(st, w, random_unit(rng, n) * k[:, None], np.full(n, REACH))]
    rot = Rotation(math.radians(angle_deg), random_unit(rng), st, w, rng.uniform(0.2, 1.0, n))
    return Event(kind, dur, float(amp), parts, rotation=rot)


def make_posture(rng, s, fs) -> Event:
    """Posture shift: 3-45 s of rotation and irregular reaches, maybe a landing impact."""
    dur = rng.uniform(*s.posture_duration_s)
    ev = make_movement(rng, "posture_shift", dur, loguniform(rng, s.posture_accel_g),
                       rng.uniform(*s.posture_angle_deg), (0.4, 2.5))
    if rng.random() < s.posture_impact_prob:
        w = rng.uniform(0.02, 0.06)  # impact pulse width (assumption)
        g = float(loguniform(rng, s.posture_impact_g))
        vec = random_unit(rng)
        ring = _ring(rng, s, fs, 0.0, vec, 0.2 * g)  # 20 % rebound ringing (assumption)
        t0 = max(0.0, rng.uniform(0.6, 0.95) * (dur - w - ring.length))  # late: arm lands
        ring.start = t0 + w
        ev.fixed = [Bumps(np.array([t0]), np.array([w]), vec[None] * g, np.array([PULSE])), ring]
    return ev


def make_plm(rng, s, placement) -> Event:
    """Leg movement of a PLM series: 1-2 slow excursions (dorsiflexion and return). At the
    ankle it tilts the sensor out and back; at the wrist only a damped trace arrives."""
    dur = rng.uniform(*s.plm_duration_s)
    k = int(rng.integers(1, 3))  # one or two pushes (assumption)
    w = np.minimum(rng.uniform(0.5, 1.0, k) * dur, dur)
    st = rng.uniform(0, 1, k) * (dur - w)
    st[0], w[0] = 0.0, dur
    parts = [Bumps(st, w, random_unit(rng, k), np.full(k, EXCURSION))]
    amp = float(loguniform(rng, s.plm_accel_g))
    rot = None
    if placement == "ankle":
        rot = Rotation(math.radians(rng.uniform(*s.plm_ankle_angle_deg)), random_unit(rng),
                       out_and_back=dur)
    else:
        amp *= s.plm_wrist_gain
    return Event("plm", dur, amp, parts, rotation=rot)


def make_burst(rng, kind, dur, hz, amp, harmonic=0.0, n_comp=1, wobble=0.1) -> Event:
    """Oscillation burst (scratch: 2nd harmonic ~0.3; tremor: pure; partner: 3 components).
    Assumptions: frequency wobble +-`wobble` at 0.1-0.5 Hz, amplitude modulation +-30 % at
    0.1-0.5 Hz, 0.5-s ramps (shorter for short bursts)."""
    f0 = rng.uniform(*hz, n_comp)
    freq, a = f0, np.ones(n_comp)
    if harmonic:
        freq, a = np.r_[f0, 2 * f0], np.r_[a, harmonic * rng.uniform(0.5, 1.0, n_comp)]
    k = len(freq)
    main = random_unit(rng)  # mostly one stroke direction, a little elliptical
    vec = unit(main + 0.4 * random_unit(rng, k))
    b = Burst(dur, freq, a, rng.uniform(0, 2 * np.pi, k), vec, rng.uniform(0.1, 0.5), wobble,
              rng.uniform(0.1, 0.5), 0.3, min(0.5, dur / 4))
    return Event(kind, dur, float(amp), [b])


# --- continuous background ------------------------------------------------------------

def rodrigues(v: np.ndarray, axis: np.ndarray, theta) -> np.ndarray:
    """Rotate v (3,) about unit axis (3,) perpendicular to v by theta (rad, scalar or (n,))."""
    th = np.asarray(theta, dtype=float)[..., None]
    return v * np.cos(th) + np.cross(axis, v) * np.sin(th)


def render_orientation(t: np.ndarray, g0: np.ndarray, events: list) -> np.ndarray:
    """Gravity vector (n, 3) at times t: constant between events, rotating during them.
    Events must not overlap in time (the planner guarantees it)."""
    g = np.empty((len(t), 3))
    cur, pos = unit(g0), 0
    for ev in sorted((e for e in events if e.rotation is not None), key=lambda e: e.onset):
        r = ev.rotation
        i0, i1 = np.searchsorted(t, (ev.onset, ev.onset + ev.duration))
        g[pos:i0] = cur
        axis = unit(np.cross(cur, r.ref))
        g[i0:i1] = rodrigues(cur, axis, r.angle * r.progress(t[i0:i1] - ev.onset))
        cur = unit(rodrigues(cur, axis, r.angle * r.final))
        pos = i1
    g[pos:] = cur
    return g


def _ou(rng, n, dt, tau, order=2):
    """Unit-SD smooth random process (Ornstein-Uhlenbeck applied `order` times), shape (n,)."""
    a = math.exp(-dt / tau)
    x = rng.standard_normal(n)
    for _ in range(order):
        x = lfilter([1 - a], [1, -a], x)
    return x / max(x[n // 10:].std(), 1e-12)  # skip the filter start-up in the SD


def tilt_field(rng, t, s, sleep_start, sleep_end) -> np.ndarray:
    """Small rotation vector omega(t) (n, 3) rad: awake orientation wander (reading, phone),
    gated to 0 over the minute into sleep, plus breathing tilt about a fixed axis."""
    dt = 0.5  # wander at 2 Hz, interpolated; smooth, correlation time ~20 s (assumption)
    tc = np.arange(0.0, t[-1] + 2 * dt, dt)
    gate = np.clip((sleep_start - tc) / 60.0, 0, 1) + np.clip((tc - sleep_end) / 60.0, 0, 1)
    sd = math.radians(s.awake_wander_deg) * (ANKLE_AWAKE_GAIN if s.placement == "ankle" else 1)
    omega = np.empty((len(t), 3))
    for k in range(3):
        omega[:, k] = np.interp(t, tc, gate * sd * _ou(rng, len(tc), dt, 20.0))
    # breathing: frequency wanders inside breathing_hz, amplitude +-20 % (assumption),
    # 1-Hz control points; the visible tilt is the part of it perpendicular to gravity
    tb = np.arange(0.0, t[-1] + 2.0, 1.0)
    lo, hi = s.breathing_hz
    f = np.clip(rng.uniform(lo, hi) + 0.15 * (hi - lo) * _ou(rng, len(tb), 1.0, 60.0), lo, hi)
    amp = math.radians(rng.uniform(*s.breathing_tilt_deg)) * (1 + 0.2 * np.tanh(
        _ou(rng, len(tb), 1.0, 120.0)))
    fs = (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 else 1.0
    phase = (2 * np.pi / fs) * np.cumsum(np.interp(t, tb, f)) + rng.uniform(0, 2 * np.pi)
    theta = np.interp(t, tb, amp) * np.sin(phase)
    omega += theta[:, None] * random_unit(rng)
    return omega


def apply_tilt(g: np.ndarray, omega: np.ndarray) -> None:
    """g <- unit(g + omega x g), in place: small rotation by omega (first order, then
    renormalised; a component of omega along g changes nothing, as in reality).
    Chunked so the temporaries stay small."""
    for i in range(0, len(g), 1 << 20):
        c = g[i:i + (1 << 20)]
        c += np.cross(omega[i:i + (1 << 20)], c)
        c /= np.linalg.norm(c, axis=1, keepdims=True)


def cardiac(rng, t, s) -> tuple[np.ndarray, np.ndarray]:
    """Ballistocardiac pulses: (n,) amplitude in g and a fixed direction (3,). A Mexican-hat
    wavelet (sigma 30 ms, assumption) per beat; heart rate in cardiac_hz, 3 % beat-to-beat
    variability and 10 % amplitude variability (assumption)."""
    n = len(t)
    fs = (n - 1) / (t[-1] - t[0]) if n > 1 else 1.0
    f0 = rng.uniform(*s.cardiac_hz)
    nb = int((t[-1] - t[0]) * f0 * 1.2) + 2
    beats = t[0] + rng.uniform(0, 1 / f0) + np.cumsum(
        np.r_[0.0, (1 + 0.03 * rng.standard_normal(nb - 1)) / f0])
    beats = beats[beats < t[-1]]
    imp = np.zeros(n)
    idx = np.minimum(np.rint((beats - t[0]) * fs).astype(np.int64), n - 1)
    np.add.at(imp, idx, rng.uniform(*s.cardiac_amp_g) * (1 + 0.1 * rng.standard_normal(len(idx))))
    sig = 0.03
    tk = np.arange(-int(4 * sig * fs), int(4 * sig * fs) + 1) / fs
    kern = (1 - (tk / sig) ** 2) * np.exp(-0.5 * (tk / sig) ** 2)
    return np.convolve(imp, kern, mode="same"), random_unit(rng)
