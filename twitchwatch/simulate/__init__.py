"""Night simulator: realistic accelerometer nights with ground truth for twitchwatch.

Every parameter is documented in settings.NightSettings with its source (../shared/docs/
domain.md) or marked as an assumption. Use:

    night = simulate_night(NightSettings(seed=1, sleep_hours=1.5))
    night.samples  # time_s, ax_g, ay_g, az_g
    night.truth    # one row per event
    write_night(night, "night.csv.gz", "truth.csv", "meta.json")
"""
from .night import TRUTH_COLUMNS, SimulatedNight, simulate_night, write_night
from .sensors import SENSOR_PRESETS, SensorPreset
from .settings import NightSettings

__all__ = ["NightSettings", "simulate_night", "write_night", "SENSOR_PRESETS",
           "SensorPreset", "SimulatedNight", "TRUTH_COLUMNS"]
