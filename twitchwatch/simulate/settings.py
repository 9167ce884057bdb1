"""Every parameter of a simulated night, each with its source.

"domain.md" means ../shared/docs/domain.md (section numbers given). A parameter marked
"assumption" has no published source: it is our own choice, kept in a range that tests vary.
Ranges are (low, high) tuples; a value is drawn uniformly in the range unless the comment
says "log-uniform". Rates are Poisson rates per hour of the period named (sleep or awake).
Times are seconds, accelerations g (1 g = 9.80665 m/s^2), angles degrees.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .sensors import SENSOR_PRESETS

Range = tuple[float, float]
PLACEMENTS = ("wrist", "ankle")


@dataclass(frozen=True)
class NightSettings:
    """Parameters of one simulated night; ``simulate_night`` is a pure function of them."""

    # --- recording ------------------------------------------------------------------
    seed: int = 0
    start_utc: float = 1795557600.0  # 2026-11-24T22:00:00Z, recording start (Unix s)
    sample_rate_hz: float = 100.0  # nominal ODR; 50-416. domain.md §4: prefer >= 50 Hz, 100 where possible
    placement: str = "wrist"  # 'wrist' | 'ankle' (domain.md §3: placement matters)
    sensor: str = "bmi270"  # key of SENSOR_PRESETS (domain.md §4)
    awake_before_min: float = 45.0  # in bed, awake, band on, before sleep onset (assumption)
    sleep_hours: float = 7.0  # sleep period length (assumption: typical adult night)
    awake_after_min: float = 30.0  # awake in bed after the final awakening (assumption)

    # --- jerks (only in the sleep period) -------------------------------------------
    # The rate of *visible* jerks is unknown (fragmentary myoclonus median 25/h, often no
    # visible movement: domain.md §1-2); 6/h is an assumption.
    jerk_rate_per_hour: float = 6.0  # isolated jerks per hour of sleep (assumption)
    cluster_rate_per_hour: float = 0.5  # jerk clusters per hour of sleep (assumption)
    cluster_size_range: tuple[int, int] = (3, 8)  # jerks per cluster, inclusive (assumption)
    cluster_interval_s: Range = (1.5, 10.0)  # onset-to-onset inside a cluster (assumption)
    # Jerk amplitude is NOT published; domain.md §4 *derived*: 2 mm -> 0.08 g, 1 cm -> 0.6 g,
    # design for 0.03-2 g. Peak |dynamic acceleration|, log-uniform.
    jerk_amp_range_g: Range = (0.03, 2.0)
    # Mechanical response is longer than the 10-100 ms EMG burst (domain.md §2): duration of
    # the displacement bump (assumption 50-250 ms).
    jerk_duration_s: Range = (0.05, 0.25)
    jerk_ringdown_prob: float = 0.5  # soft tissue / strap ring-down after the bump (assumption)
    jerk_ringdown_hz: Range = (8.0, 20.0)  # ring-down frequency (assumption; capped at 0.4*fs)
    jerk_ringdown_tau_s: Range = (0.015, 0.05)  # ring-down decay time constant (assumption)
    jerk_ringdown_rel: Range = (0.1, 0.4)  # ring-down amplitude / bump peak (assumption)
    jerk_max_tilt_deg: float = 2.0  # orientation left changed by a jerk, 0..this (assumption)
    # A jerk onset is re-drawn when the jerk comes closer than this to any other event
    # (simplification so that every truth jerk is separable; natural placement otherwise).
    jerk_min_gap_s: float = 1.0
    # Hypnic jerk: 75-250 ms, several limbs or whole body, 1-2 per night at sleep onset
    # (domain.md §2, Walters 2007). 60-70 % of people have them (domain.md §1).
    hypnic_count_range: tuple[int, int] = (1, 2)  # inclusive; (0, 0) for none
    hypnic_window_s: float = 600.0  # placed within this long after sleep onset (assumption)
    hypnic_amp_range_g: Range = (0.3, 3.0)  # "larger" than jerks, log-uniform (assumption)
    hypnic_duration_s: Range = (0.075, 0.25)  # domain.md §2
    hypnic_max_tilt_deg: float = 5.0  # whole-body start may leave a small tilt (assumption)

    # --- confounders in sleep ---------------------------------------------------------
    posture_shifts_per_hour: float = 1.6  # domain.md §2 (Skarpsno 2017; De Koninck 1992)
    posture_shifts_sd_per_hour: float = 0.7  # between-night SD of that rate, same source
    posture_duration_s: Range = (3.0, 45.0)  # domain.md §2
    posture_angle_deg: Range = (20.0, 180.0)  # gravity-direction change (assumption)
    posture_accel_g: Range = (0.05, 1.0)  # peak of the irregular movement, log-uniform (assumption)
    posture_impact_prob: float = 0.3  # arm lands on the mattress (assumption)
    posture_impact_g: Range = (0.3, 8.0)  # domain.md §4: up to ~8 g at the wrist; log-uniform
    limb_repositions_per_hour: float = 3.0  # assumption
    limb_duration_s: Range = (0.5, 10.0)  # as AASM leg movement 0.5-10 s (domain.md §2)
    limb_angle_deg: Range = (0.0, 10.0)  # assumption
    limb_accel_g: Range = (0.02, 0.3)  # log-uniform (assumption)
    # Periodic limb movements: series of >= 4, 10-90 s onset to onset (domain.md §2, WASM 2016).
    plm_series_range: tuple[int, int] = (0, 0)  # series per night, inclusive; default none
    plm_movements_range: tuple[int, int] = (4, 40)  # movements per series (assumption, >= 4)
    plm_interval_s: Range = (10.0, 90.0)  # domain.md §2 (WASM 2016)
    plm_duration_s: Range = (0.5, 5.0)  # within AASM 0.5-10 s (domain.md §2)
    plm_accel_g: Range = (0.05, 0.5)  # at the ankle, log-uniform (assumption)
    plm_ankle_angle_deg: Range = (5.0, 30.0)  # foot dorsiflexion tilt, out and back (assumption)
    plm_wrist_gain: float = 0.1  # leg movement seen at the wrist through the bed (assumption)
    scratch_per_hour: float = 0.5  # assumption
    scratch_duration_s: Range = (2.0, 20.0)  # domain.md §4 "for seconds"; range assumption
    scratch_hz: Range = (3.0, 6.0)  # domain.md §4
    scratch_accel_g: Range = (0.05, 1.0)  # derived: 1-2 cm at 4 Hz -> 0.6-1.3 g; log-uniform
    tremor_per_hour: float = 0.0  # optional, off by default (assumption)
    tremor_duration_s: Range = (2.0, 30.0)  # assumption
    tremor_hz: Range = (4.0, 8.0)  # domain.md §4
    tremor_accel_g: Range = (0.005, 0.05)  # log-uniform (assumption)
    partner_per_hour: float = 1.0  # bed partner moves (assumption)
    partner_duration_s: Range = (2.0, 20.0)  # assumption
    partner_hz: Range = (0.5, 3.0)  # "small, slow" (domain.md §4); band assumption
    partner_accel_g: Range = (0.001, 0.005)  # few mg (assumption)

    # --- awake in bed (so that HDCZA finds the sleep edges, domain.md §3) --------------
    awake_movements_per_min: float = 2.0  # arm movements while reading / phone (assumption)
    awake_move_duration_s: Range = (0.5, 5.0)  # assumption
    awake_move_angle_deg: Range = (5.0, 90.0)  # assumption
    awake_move_accel_g: Range = (0.05, 0.5)  # log-uniform (assumption)
    awake_wander_deg: float = 6.0  # SD of the continual orientation wander (assumption)

    # --- background, always present ------------------------------------------------
    breathing_hz: Range = (0.2, 0.33)  # domain.md §4
    breathing_tilt_deg: Range = (0.2, 1.0)  # amplitude; assumption
    cardiac_hz: Range = (1.0, 1.3)  # domain.md §4
    cardiac_amp_g: Range = (0.001, 0.004)  # "a few mg, not well sourced" (domain.md §4)

    # --- device ---------------------------------------------------------------------
    calib_offset_max_g: float = 0.03  # per-axis offset, |.| <= this; domain.md §4 "tens of mg"
    calib_gain_error_max: float = 0.02  # per-axis gain error, |.| <= this (assumption, ~2 %)
    ble_gap_count_range: tuple[int, int] = (0, 10)  # gaps per night, inclusive (assumption)
    ble_gap_duration_s: Range = (0.5, 120.0)  # log-uniform (assumption)
    # Actual rate = (1 + ppm * 1e-6) * nominal. None draws it in +-clock_drift_max_ppm.
    # domain.md §4: Axivity 94-104 Hz at 100 Hz nominal; we cap at +-2 %.
    clock_drift_ppm: float | None = None
    clock_drift_max_ppm: float = 20000.0
    # Uniform timestamp jitter +-this, capped at 0.45 sample period so time stays strictly
    # increasing (assumption).
    timestamp_jitter_s: float = 0.0005

    def __post_init__(self) -> None:
        if not 50.0 <= self.sample_rate_hz <= 416.0:
            raise ValueError("sample_rate_hz must be in [50, 416]")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}")
        if self.sensor not in SENSOR_PRESETS:
            raise ValueError(f"unknown sensor {self.sensor!r}; have {sorted(SENSOR_PRESETS)}")
        if min(self.awake_before_min, self.awake_after_min) < 0 or self.sleep_hours <= 0:
            raise ValueError("period lengths must be >= 0 (sleep > 0)")
        if abs(self.clock_drift_ppm or 0.0) > 1e5:
            raise ValueError("clock_drift_ppm beyond +-10 %")
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple) and (len(v) != 2 or v[0] > v[1] or v[0] < 0):
                raise ValueError(f"{f.name} must be (low, high) with 0 <= low <= high")
            if (f.name.endswith(("per_hour", "per_min", "_prob")) and v < 0):
                raise ValueError(f"{f.name} must be >= 0")
        if self.cluster_size_range[0] < 1 or self.plm_movements_range[0] < 1:
            raise ValueError("cluster and PLM series need at least one movement")

    def to_dict(self) -> dict:
        """Plain dict (tuples become lists), for JSON."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}
