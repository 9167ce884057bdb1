"""Every tunable number of the detector, in one frozen, hashable dataclass.

Each field says its unit and why it has its default.  The configuration and its hash
are written into every summary so that a result can be traced to the settings that
made it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass

from .errors import ConfigError

#: Bumped whenever a change can alter any event or summary value.
DETECTOR_VERSION = "0.1.1"   # 0.1.1: the summary lists the non-wear spans

#: Below this rate the mechanical response of a jerk (tens of ms) is not sampled.
MIN_SAMPLE_RATE_HZ = 25.0


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of the jerk detector.

    Only ``sample_rate_hz`` is required.  It is the *nominal* rate of the device; the
    timestamps stay the truth for onsets and gaps, the nominal rate only designs the
    filters (a drift of a few percent moves their corner frequencies by as much).
    """

    sample_rate_hz: float

    # --- signal conditioning -------------------------------------------------------
    #: 2nd-order Butterworth high-pass that makes the signal gravity-free (Hz).  2 Hz keeps
    #: the 5-20 Hz mechanical response of a jerk and removes breathing tilt (0.2-0.33 Hz)
    #: and most posture drift (domain.md section 4).  No low-pass: domain.md warns against
    #: low-passing below 20-25 Hz before detection.
    highpass_hz: float = 2.0
    #: One-pole low-pass giving the gravity (orientation) estimate (Hz).
    gravity_lowpass_hz: float = 0.5
    #: A step between timestamps longer than max(gap_min_s, gap_samples / rate) is a gap:
    #: filters restart after it, an event open across it is cut, and it is reported.
    gap_min_s: float = 0.1
    gap_samples: float = 5.0

    # --- adaptive threshold --------------------------------------------------------
    #: The noise floor is a low quantile of the mean square of the gravity-free magnitude
    #: over blocks of ``noise_block_s`` in the last ``noise_window_blocks`` blocks.
    #: A low quantile ignores the blocks that hold movement.
    noise_block_s: float = 1.0
    noise_window_blocks: int = 300
    noise_quantile: float = 0.2
    #: Noise floor assumed before the first block completes (g RMS); ~ a BMI270 at 100 Hz.
    noise_initial_g: float = 0.003
    #: An event starts when the magnitude exceeds k_on x noise RMS and lasts while it
    #: exceeds k_off x noise RMS (hysteresis).  With chi-square(3) noise, a single sample
    #: exceeds 5 x RMS with probability ~1e-15.
    k_on: float = 5.0
    k_off: float = 3.0
    #: Floor under both thresholds (g): quantisation alone (1 mg/LSB) must not trigger.
    min_threshold_g: float = 0.008
    #: Quiet time (below k_off) that ends an event (s); shorter pauses merge.
    merge_gap_s: float = 0.3
    #: Events shorter than this are glitches (s).
    min_event_s: float = 0.03
    #: An event longer than this is cut and a new one starts (s); bounds memory per event.
    max_event_s: float = 120.0
    #: Time after an event before the orientation "after" is read (s): 3 time constants of
    #: the gravity low-pass.
    settle_s: float = 1.0

    # --- classification ------------------------------------------------------------
    #: A jerk is brief: energy-weighted duration (2 sigma of the energy over time, s) and
    #: span from onset to the last supra-threshold sample (s) both below these.  The
    #: acceleration of a limb excursion lasting at most 250 ms (the longest hypnic jerk,
    #: domain.md section 2) keeps its energy within about +-60 ms of its centre (2 sigma
    #: <= 0.12 s, derived); voluntary sub-movements last 0.3 s and more.
    jerk_max_effective_s: float = 0.15
    jerk_max_span_s: float = 1.0
    #: Orientation change that makes a posture change (degrees).
    posture_change_deg: float = 12.0
    #: A jerk leaves the posture unchanged: the orientation after it, and the orientation
    #: over the ``pre_onset_s`` before it, stay within this of the orientation at onset
    #: (degrees).  Pieces of a slow turn fail this test even when each piece is brief.
    jerk_max_turn_deg: float = 6.0
    pre_onset_s: float = 1.5
    snapshot_s: float = 0.1
    #: A jerk's peak stands at least this many times above the noise floor RMS; nearer the
    #: threshold, the brief bursts of slow movements look alike (assumption, tuned on
    #: simulated nights of several sensors).
    jerk_min_snr: float = 7.0
    #: ... and at least this high (g): half the smallest jerk the design covers (0.03 g,
    #: domain.md section 4); below it even a quiet sensor cannot tell a jerk from the
    #: edge of a slow movement.
    jerk_min_peak_g: float = 0.015
    #: Limb movement span (s), AASM/WASM 2016: 0.5-10 s.
    limb_min_s: float = 0.5
    limb_max_s: float = 10.0
    #: Sustained oscillation at or above this (Hz) over >= osc_min_s is scratching or
    #: tremor (3-8 Hz, domain.md) -> other_movement.
    osc_min_hz: float = 3.0
    osc_min_s: float = 1.0
    #: A brief event within this time of a larger movement is part of that movement (s).
    context_s: float = 1.0
    #: ... and within this of a posture change (s): a posture shift lasts 3-45 s
    #: (domain.md section 2) in bursts with pauses, and the hand landing on the mattress
    #: at its end is as brief and sharp as a jerk.
    posture_context_s: float = 5.0

    # --- epochs, calibration, non-wear, sleep window -------------------------------
    epoch_s: float = 5.0
    #: van Hees 2014 calibration: 10-s windows with every axis SD below this (g).
    still_sd_g: float = 0.013
    #: GGIR non-wear: 60-min windows stepped 15 min; >= 2 axes with SD < 13 mg and range
    #: < 50 mg.
    nonwear_sd_g: float = 0.013
    nonwear_range_g: float = 0.050
    nonwear_window_min: float = 60.0
    nonwear_step_min: float = 15.0
    #: One-pole low-pass (Hz) of the orientation whose 5-s epoch mean gives angle-z for
    #: the sleep window.  GGIR takes a 5-s rolling median of the raw axes instead; a
    #: streaming median per sample is costly, and this low-pass removes breathing tilt
    #: (0.2-0.33 Hz, domain.md section 4) better: a tilt of 1 degree left 0.1-0.2 degree
    #: of epoch-to-epoch noise in a plain 5-s mean, as large as HDCZA's 0.13-degree floor.
    angle_lowpass_hz: float = 0.1
    #: HDCZA (van Hees 2018) as GGIR's HASPT.R runs it.
    hdcza_window_min: float = 5.0
    hdcza_percentile: float = 10.0
    hdcza_multiplier: float = 15.0
    hdcza_threshold_min_deg: float = 0.13
    hdcza_threshold_max_deg: float = 0.50
    hdcza_block_min: float = 30.0
    hdcza_max_gap_min: float = 60.0
    #: The sleep window opens this long before HDCZA's start (min).  Hypnic jerks happen at
    #: the very transition into sleep (domain.md section 2) and HDCZA's edge is only as
    #: sharp as its centred 5-min rolling median (+-2.5 min); without the margin the jerks
    #: that mark sleep onset fall just outside the window.
    sleep_onset_margin_min: float = 2.5

    # --- series --------------------------------------------------------------------
    #: WASM 2016 periodic limb movement series.
    plm_min_count: int = 4
    plm_min_interval_s: float = 10.0
    plm_max_interval_s: float = 90.0
    #: Jerk cluster (assumption: no published rule): >= 3 jerks, each within 15 s of the
    #: previous one (propriospinal clusters repeat faster than that).
    cluster_min_count: int = 3
    cluster_max_interval_s: float = 15.0

    #: Clipping level (g) when the device range is known; 0 = unknown.
    clip_g: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sample_rate_hz) and self.sample_rate_hz >= MIN_SAMPLE_RATE_HZ):
            raise ConfigError(
                f"sample_rate_hz must be >= {MIN_SAMPLE_RATE_HZ:g} Hz (jerks last tens of "
                f"milliseconds); got {self.sample_rate_hz!r}"
            )
        if not 0 < self.highpass_hz < self.sample_rate_hz / 2:
            raise ConfigError(
                f"highpass_hz must be in (0, {self.sample_rate_hz / 2:g}); got {self.highpass_hz!r}"
            )
        if not 0 < self.gravity_lowpass_hz < self.sample_rate_hz / 2:
            raise ConfigError(f"gravity_lowpass_hz out of range; got {self.gravity_lowpass_hz!r}")
        if not self.k_on >= self.k_off > 0:
            raise ConfigError(f"need k_on >= k_off > 0; got k_on={self.k_on}, k_off={self.k_off}")
        if not 0 < self.noise_quantile < 1:
            raise ConfigError(f"noise_quantile must be in (0, 1); got {self.noise_quantile!r}")
        if self.noise_window_blocks < 1:
            raise ConfigError("noise_window_blocks must be >= 1")
        for name in ("noise_block_s", "merge_gap_s", "max_event_s", "epoch_s", "settle_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0; got {getattr(self, name)!r}")

    # derived ------------------------------------------------------------------------
    @property
    def max_contiguous_dt_s(self) -> float:
        """Longest step between timestamps still treated as contiguous (s)."""
        return max(self.gap_min_s, self.gap_samples / self.sample_rate_hz)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Short, stable hash of every setting plus the detector version."""
        blob = json.dumps({"v": DETECTOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def replace(self, **changes) -> "DetectorConfig":
        return dataclasses.replace(self, **changes)
