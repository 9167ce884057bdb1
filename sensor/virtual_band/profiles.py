"""What a virtual band can pretend to be: ``virtual-band --profile`` choices.

Each value is a short description; the band's device model is chosen from the key
(sensor/virtual_band/models.py ``make_model``).
"""
BAND_PROFILES = {
    "polar-h10": "Polar H10 (PMD service, raw ACC frames, 25-200 Hz)",
    "polar-verity": "Polar Verity Sense (PMD, compressed ACC frames, 52 Hz; 26-416 Hz in SDK mode)",
    "open-imu": "a DIY band speaking the open twitchwatch IMU profile (12-416 Hz)",
    "movesense": "Movesense with the GATT SensorData app (/Meas/Acc, /Meas/IMU6, 13-1666 Hz)",
}
