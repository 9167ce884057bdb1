"""Readers for research-device and export file formats; each module returns a readers.Recording."""
