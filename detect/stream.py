"""The streaming detector: one code path for a live night and for a file.

``Detector.feed(chunk)`` pushes samples through the numba kernel and returns the events
that can no longer change; ``Detector.finish()`` closes the night and returns a
:class:`~detect.night.NightResult`.  ``analyze`` on a file is ``feed`` in fixed-size chunks
followed by ``finish``: the same code the recorder runs live, so results are identical
whatever the chunking (a property test feeds random splits down to single samples).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from .classify import apply_context, base_kind, confidence, flag_text, orientation_change_deg, span_s
from . import layout as L
from .config import DetectorConfig
from .errors import InputError, StateError
from .filters import butter2_highpass

log = logging.getLogger(__name__)

#: Output buffer sizes (rows).  The kernel returns early when one is nearly full, so these
#: bound memory, not the chunk size.
EVENT_BUFFER_ROWS = 1024
EPOCH_BUFFER_ROWS = 4096
GAP_BUFFER_ROWS = 256


def _kernels():
    """Import the numba kernels on first use (never at package import)."""
    from . import kernels_numba

    return kernels_numba


def kernel_params(cfg: DetectorConfig) -> np.ndarray:
    """The read-only parameter vector of the kernel, shape (N_PARAMS,)."""
    K = _kernels()
    p = np.zeros(K.N_PARAMS)
    fs = cfg.sample_rate_hz
    p[K.P_FS] = fs
    p[K.P_B0], p[K.P_B1], p[K.P_B2], p[K.P_A1], p[K.P_A2] = butter2_highpass(cfg.highpass_hz, fs)
    p[K.P_GALPHA] = 1.0 - math.exp(-2.0 * math.pi * cfg.gravity_lowpass_hz / fs)
    p[K.P_MAXDT] = cfg.max_contiguous_dt_s
    p[K.P_NBLOCK] = max(1, int(round(cfg.noise_block_s * fs)))
    p[K.P_Q] = cfg.noise_quantile
    p[K.P_NOISE0] = cfg.noise_initial_g ** 2
    p[K.P_KON2] = cfg.k_on ** 2
    p[K.P_KOFF2] = cfg.k_off ** 2
    p[K.P_MINON2] = cfg.min_threshold_g ** 2
    p[K.P_MINOFF2] = (cfg.min_threshold_g * cfg.k_off / cfg.k_on) ** 2
    p[K.P_MERGE] = cfg.merge_gap_s
    p[K.P_MAXEV] = cfg.max_event_s
    p[K.P_SETTLE] = cfg.settle_s
    p[K.P_EPOCH] = cfg.epoch_s
    p[K.P_CLIP] = cfg.clip_g
    p[K.P_SNAP_N] = snapshot_samples(cfg)
    p[K.P_AALPHA] = 1.0 - math.exp(-2.0 * math.pi * cfg.angle_lowpass_hz / fs)
    return p


def snapshot_samples(cfg: DetectorConfig) -> int:
    """Samples between two snapshots of the gravity estimate."""
    return max(1, int(round(cfg.snapshot_s * cfg.sample_rate_hz)))


def snapshot_count(cfg: DetectorConfig) -> int:
    """Snapshots kept: enough to span ``pre_onset_s``."""
    return max(1, int(math.ceil(cfg.pre_onset_s / cfg.snapshot_s)))


class KernelRunner:
    """The explicit state and output buffers of one stream, and the loop around the kernels.

    Two kernels pass over each chunk: ``process`` (filters, noise floor, events, gaps)
    and ``epochs`` (5-s statistics), each with its own state in the shared arrays.  The
    kernels return early when a buffer fills; this loop drains and resumes, so buffer
    sizes bound memory and never change results.
    """

    def __init__(self, cfg: DetectorConfig, *, event_rows: int = EVENT_BUFFER_ROWS,
                 epoch_rows: int = EPOCH_BUFFER_ROWS, gap_rows: int = GAP_BUFFER_ROWS):
        K = _kernels()
        self.K = K
        self.p = kernel_params(cfg)
        self.fs = np.zeros(L.n_fstate(snapshot_count(cfg)))
        self.ist = np.zeros(K.N_ISTATE, dtype=np.int64)
        self.ring = np.zeros(cfg.noise_window_blocks)
        self.srt = np.zeros(cfg.noise_window_blocks)
        self.ev_buf = np.zeros((event_rows, K.N_EVENT_COLS))
        self.ep_buf = np.zeros((epoch_rows, K.N_EPOCH_COLS))
        self.gap_buf = np.zeros((gap_rows, 2))

    def run(self, t, x, y, z) -> tuple[list, list, list]:
        """Feed contiguous float64 arrays (n,); return lists of event, epoch and gap arrays."""
        K = self.K
        n = t.shape[0]
        m2 = np.empty(n)
        evs, eps, gaps = [], [], []
        i = b = 0
        while i < n:
            i, n_ev, n_gap = K.process(t, x, y, z, m2, i, self.p, self.fs, self.ist, self.ring,
                                       self.srt, self.ev_buf, 0, self.gap_buf, 0)
            if n_ev:
                evs.append(self.ev_buf[:n_ev].copy())
            if n_gap:
                gaps.append(self.gap_buf[:n_gap].copy())
            while b < i:
                b, n_ep = K.epochs(t, x, y, z, m2, b, i, self.p, self.fs, self.ist, self.ep_buf, 0)
                if n_ep:
                    eps.append(self.ep_buf[:n_ep].copy())
        return evs, eps, gaps

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """End of data: (event rows, epoch rows) still held."""
        n_ev, n_ep = self.K.flush(self.fs, self.ist, self.ev_buf, 0, self.ep_buf, 0)
        return self.ev_buf[:n_ev].copy(), self.ep_buf[:n_ep].copy()

    @property
    def clipped(self) -> int:
        return int(self.ist[self.K.I_CLIPPED])


@dataclass(frozen=True)
class Event:
    """One classified movement.  Times are Unix seconds (UTC), accelerations in g."""

    onset_t: float
    end_t: float
    kind: str
    duration_s: float
    peak_accel_g: float
    peak_jerk_g_per_s: float
    peak_t: float
    effective_duration_s: float
    orientation_change_deg: float
    pre_onset_turn_deg: float
    oscillation_half_cycles: int
    threshold_g: float
    noise_floor_g: float
    confidence: float
    flags: str
    onset_index: int


class Detector:
    """Streaming jerk detector.

    Parameters
    ----------
    config : DetectorConfig
        Must carry the nominal sample rate of the device.

    Use ``feed(t, ax, ay, az)`` any number of times with strictly increasing timestamps
    (Unix s, UTC) and accelerations in g, then ``finish()`` once.
    """

    def __init__(self, config: DetectorConfig):
        self.config = config
        self._k = KernelRunner(config)
        self._K = self._k.K
        self._fs = self._k.fs
        self._is = self._k.ist
        self._epochs: list[np.ndarray] = []
        self._gaps: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []      # kernel candidates, in onset order
        self._kinds: list[str | None] = []     # their base kinds
        self._n_final = 0                      # candidates already turned into events
        self._events: list[Event] = []
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._n_samples = 0
        self._finished = False

    # ------------------------------------------------------------------ feeding
    def feed(self, t, ax, ay, az) -> list[Event]:
        """Process one chunk; return the events that became final with it.

        t : array (n,) of Unix seconds, strictly increasing and after the previous chunk.
        ax, ay, az : arrays (n,) of acceleration in g, finite.
        """
        if self._finished:
            raise StateError("feed() after finish(): create a new Detector for a new night")
        t = np.ascontiguousarray(t, dtype=np.float64)
        x = np.ascontiguousarray(ax, dtype=np.float64)
        y = np.ascontiguousarray(ay, dtype=np.float64)
        z = np.ascontiguousarray(az, dtype=np.float64)
        n = t.shape[0]
        if t.ndim != 1 or not (x.shape == y.shape == z.shape == (n,)):
            raise InputError(
                f"feed() needs four 1-D arrays of equal length; got shapes "
                f"{t.shape}, {x.shape}, {y.shape}, {z.shape}"
            )
        if n == 0:
            return []
        self._check_chunk(t, x, y, z)
        if self._first_t is None:
            self._first_t = float(t[0])
        self._drain(*self._k.run(t, x, y, z))
        self._last_t = float(t[-1])
        self._n_samples += n
        return self._finalize(end_of_data=False)

    def _check_chunk(self, t, x, y, z) -> None:
        if not np.all(np.isfinite(t)):
            raise InputError("timestamps contain NaN or infinity; drop those rows")
        for name, a in (("ax", x), ("ay", y), ("az", z)):
            if not np.all(np.isfinite(a)):
                bad = int(np.flatnonzero(~np.isfinite(a))[0])
                raise InputError(
                    f"{name} is NaN or infinite at t={t[bad]:.6f}; drop those rows "
                    f"(a gap is better than an invented value)"
                )
        d = np.diff(t)
        if d.size and d.min() <= 0:
            k = int(np.argmin(d))
            raise InputError(
                f"timestamps must strictly increase: t[{k + 1}]={t[k + 1]:.6f} follows "
                f"t[{k}]={t[k]:.6f}; sort the samples and drop duplicates"
            )
        if self._last_t is not None and t[0] <= self._last_t:
            raise InputError(
                f"chunk starts at {t[0]:.6f}, not after the previous chunk's last sample "
                f"{self._last_t:.6f}"
            )

    def _drain(self, evs: list, eps: list, gaps: list) -> None:
        self._epochs.extend(eps)
        self._gaps.extend(gaps)
        for block in evs:
            for row in block:
                self._rows.append(row)
                self._kinds.append(base_kind(row, self.config))

    # ------------------------------------------------------------------ events
    def _open_onset(self) -> float:
        """Onset of a candidate the kernel still holds (open or pending); inf if none."""
        K = self._K
        if self._is[K.I_INEV]:
            return float(self._fs[K.S_EV_ON_T])
        if self._is[K.I_PEND]:
            return float(self._fs[K.S_PEND + K.E_ONSET_T])
        return math.inf

    def _finalize(self, end_of_data: bool) -> list[Event]:
        """Classify every candidate whose context can no longer change."""
        K = self._K
        cfg = self.config
        held = self._open_onset()
        out = []
        while self._n_final < len(self._rows):
            k = self._n_final
            row = self._rows[k]
            horizon = row[K.E_END_T] + max(cfg.context_s, cfg.posture_context_s)
            if not end_of_data and (self._last_t < horizon or held <= horizon):
                break
            self._n_final += 1
            if self._kinds[k] is None:
                continue
            kind = apply_context(self._kinds, self._rows, k, cfg)
            out.append(self._to_event(row, kind))
        self._events.extend(out)
        return out

    def _to_event(self, row: np.ndarray, kind: str) -> Event:
        K = self._K
        return Event(
            onset_t=float(row[K.E_ONSET_T]),
            end_t=float(row[K.E_END_T]),
            kind=kind,
            duration_s=span_s(row, self.config),
            peak_accel_g=float(row[K.E_PEAK_G]),
            peak_jerk_g_per_s=float(row[K.E_PEAK_JERK]),
            peak_t=float(row[K.E_PEAK_T]),
            effective_duration_s=float(row[K.E_EFF_DUR]),
            orientation_change_deg=orientation_change_deg(row),
            pre_onset_turn_deg=float(row[K.E_PRE_DEV]),
            oscillation_half_cycles=int(row[K.E_OSC]),
            threshold_g=float(row[K.E_THR_G]),
            noise_floor_g=float(row[K.E_NOISE_G]),
            confidence=confidence(row, kind),
            flags=flag_text(int(row[K.E_FLAGS])),
            onset_index=int(row[K.E_ONSET_IDX]),
        )

    # ------------------------------------------------------------------ live status
    @property
    def events_so_far(self) -> list[Event]:
        return list(self._events)

    @property
    def noise_floor_g(self) -> float:
        return math.sqrt(float(self._fs[self._K.S_NOISE_MS]))

    # ------------------------------------------------------------------ end of night
    def finish(self, *, timezone: str = "UTC", clipped_samples: int | None = None):
        """Close the night; return a :class:`detect.night.NightResult`.

        timezone : IANA name used for the local clock hours of the summary.
        """
        if self._finished:
            raise StateError("finish() called twice")
        if self._first_t is None:
            raise InputError("no samples were fed: nothing to analyse")
        K = self._K
        ev, ep = self._k.flush()
        self._drain([ev], [ep], [])
        self._finalize(end_of_data=True)
        self._finished = True
        from .night import build_result

        epochs = np.concatenate(self._epochs) if self._epochs else np.zeros((0, K.N_EPOCH_COLS))
        gaps = np.concatenate(self._gaps) if self._gaps else np.zeros((0, 2))
        if clipped_samples is None:
            clipped_samples = self._k.clipped
        return build_result(
            config=self.config,
            events=self._events,
            epochs=epochs,
            gaps=gaps,
            first_t=self._first_t,
            last_t=self._last_t,
            n_samples=self._n_samples,
            timezone=timezone,
            clipped_samples=clipped_samples,
        )
