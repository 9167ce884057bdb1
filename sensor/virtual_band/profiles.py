"""What a virtual band can pretend to be: ``virtual-band --profile`` choices.

Each value is a short description; the band's device model is chosen from the key.
"""
BAND_PROFILES = {
    "polar-h10": "Polar H10 (PMD service, ACC up to 200 Hz)",
}
