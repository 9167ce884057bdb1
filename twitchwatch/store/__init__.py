"""The night store: one SQLite file per night (see docs/night-file.md)."""
from .nightfile import (
    SUFFIX, ChannelSpec, NightReader, add_note, NightWriter, NotANightFileError, StoreError, save_analysis,
    write_recording,
)

__all__ = ["SUFFIX", "ChannelSpec", "NightReader", "add_note", "NightWriter", "NotANightFileError", "StoreError",
           "save_analysis", "write_recording"]
