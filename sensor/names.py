"""Names the command line offers, in a module with no imports: building the parser must
not load numpy, asyncio or the virtual band (it cost 0.1 s on every command).

sensor/profiles.py and sensor/virtual_band/profiles.py check that they implement exactly
these names.
"""
#: ``record --profile`` choices besides ``auto``: keys of sensor.profiles.PROFILES.
PROFILE_NAMES = ("polar", "open-imu", "movesense")

#: ``virtual-band --profile`` choices, each with a short description; the band's device
#: model is chosen from the key (sensor/virtual_band/models.py ``make_model``).
BAND_PROFILES = {
    "polar-h10": "Polar H10 (PMD service, raw ACC frames, 25-200 Hz)",
    "polar-verity": "Polar Verity Sense (PMD, compressed ACC frames, 52 Hz; 26-416 Hz in SDK mode)",
    "open-imu": "a DIY band speaking the open twitchwatch IMU profile (12-416 Hz)",
    "movesense": "Movesense with the GATT SensorData app (/Meas/Acc, /Meas/IMU6, 13-1666 Hz)",
}
