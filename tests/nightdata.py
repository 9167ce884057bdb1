"""Data directories of simulated nights, for the review, export and batch tests and the bench.

``make_data_dir(folder, n_nights)`` writes ``YYYY-MM-DD.night`` files on consecutive dates
(one simulated night each, the jerk rate stepping down after a "medication" night, so
trends and before/after comparisons have something to find) and analyses them, so the
review commands find their analysis already stored.
"""
from __future__ import annotations

from pathlib import Path


from twitchwatch.readers import Recording
from twitchwatch.simulate import NightSettings, simulate_night

DAY_S = 86400.0
#: First recording start: 2026-10-01 21:30 UTC (22:30 in London, BST).
FIRST_START_UTC = 1790890200.0


def simulated_recording(seed: int, *, start_utc: float, hours: float, rate_hz: float,
                        jerk_rate_per_hour: float, placement: str = "wrist") -> Recording:
    s = NightSettings(seed=seed, start_utc=start_utc, sleep_hours=hours, sample_rate_hz=rate_hz,
                      jerk_rate_per_hour=jerk_rate_per_hour, placement=placement,
                      awake_before_min=20.0, awake_after_min=10.0)
    night = simulate_night(s)
    df = night.samples
    return Recording(t=df["time_s"].to_numpy(), acc=df[["ax_g", "ay_g", "az_g"]].to_numpy(),
                     source=f"simulated-{seed}.csv", sample_rate_hz=rate_hz,
                     device={"kind": "simulated", "placement": placement, "serial": f"SIM{seed:05d}",
                             "range_g": 8.0},
                     timezone="Europe/London")


def make_data_dir(folder: Path, n_nights: int, *, hours: float = 1.0, rate_hz: float = 50.0,
                  change_after: int | None = None, rate_before: float = 12.0, rate_after: float = 5.0,
                  analyze: bool = True, timezone: str = "Europe/London") -> list[Path]:
    """Write n_nights night files into folder (created 0700), one per date from 2026-10-01.

    The isolated-jerk rate is rate_before per hour of sleep up to night ``change_after``
    (default: the middle night) and rate_after from then on; a note tagged 'medication' is
    written on that night.  Returns the night file paths, oldest first.
    """
    from twitchwatch.analyze import analyze_night_file
    from twitchwatch.nights import night_id
    from twitchwatch.store import add_note, save_analysis, write_recording

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    change = n_nights // 2 if change_after is None else change_after
    paths = []
    for i in range(n_nights):
        start = FIRST_START_UTC + i * DAY_S
        rec = simulated_recording(1000 + i, start_utc=start, hours=hours, rate_hz=rate_hz,
                                  jerk_rate_per_hour=rate_before if i < change else rate_after)
        path = folder / f"{night_id(start, timezone)}.night"
        write_recording(path, rec, timezone=timezone)
        if i == change:
            add_note(path, "new dose of clonazepam, 0.5 mg", "medication")
        if analyze:
            save_analysis(path, analyze_night_file(path, timezone=timezone))
        paths.append(path)
    return paths


__all__ = ["make_data_dir", "simulated_recording", "FIRST_START_UTC", "DAY_S"]
