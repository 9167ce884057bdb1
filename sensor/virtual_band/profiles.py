"""What a virtual band can pretend to be: ``virtual-band --profile`` choices (defined in
sensor/names.py, so that the command line can offer them without importing the band)."""
from ..names import BAND_PROFILES

__all__ = ["BAND_PROFILES"]
