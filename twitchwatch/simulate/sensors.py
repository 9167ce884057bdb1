"""Accelerometer presets: white noise, quantization step and full-scale range.

Noise densities are those of domain.md §4. Ranges and word lengths are not in domain.md:
they are typical datasheet settings and are marked "assumption" unless the brief fixed them.
RMS noise is *derived* (domain.md §4): density * sqrt(1.6 * bandwidth), bandwidth = ODR / 2
(the 1.6 factor approximates the noise bandwidth of the sensor's first-order-like filter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SensorPreset:
    """One accelerometer setting.

    noise_density_ug: white-noise density, micro-g per sqrt(Hz) (None when only an RMS is known).
    noise_rms_mg_fixed: RMS noise in mg independent of ODR (low-power modes), else None.
    lsb_mg: quantization step in mg; range_g: full scale, readings clip at +-range_g.
    """

    name: str
    noise_density_ug: float | None
    noise_rms_mg_fixed: float | None
    lsb_mg: float
    range_g: float
    source: str

    def noise_rms_mg(self, sample_rate_hz: float) -> float:
        """RMS white noise per axis in mg at this output data rate (Hz)."""
        if self.noise_rms_mg_fixed is not None:
            return self.noise_rms_mg_fixed
        return self.noise_density_ug * 1e-3 * math.sqrt(1.6 * sample_rate_hz / 2.0)

    def quantize(self, a_g: np.ndarray) -> np.ndarray:
        """Round to the LSB and clip at full scale, in place; a_g in g, any shape."""
        lsb = self.lsb_mg * 1e-3
        np.divide(a_g, lsb, out=a_g)
        np.rint(a_g, out=a_g)
        top = math.floor(self.range_g / lsb + 1e-9)
        # two's complement: one more count on the negative side
        np.clip(a_g, -top - 1, top, out=a_g)
        np.multiply(a_g, lsb, out=a_g)
        a_g += 0.0  # turns -0.0 into 0.0 so that files never show "-0.000000"
        return a_g


def _bits(range_g: float, bits: int) -> float:
    """LSB in mg of a signed `bits`-bit word spanning +-range_g."""
    return 2.0 * range_g / 2 ** bits * 1e3


SENSOR_PRESETS: dict[str, SensorPreset] = {p.name: p for p in (
    SensorPreset("bmi270", 160.0, None, _bits(8.0, 16), 8.0,
                 "density domain.md §4; +-8 g 16-bit (0.244 mg/LSB) per project brief"),
    SensorPreset("lis2dw12", 90.0, None, _bits(4.0, 14), 4.0,
                 "density domain.md §4; +-4 g 14-bit (0.488 mg/LSB) assumption"),
    SensorPreset("lsm6dsv", 60.0, None, _bits(8.0, 16), 8.0,
                 "density domain.md §4; +-8 g 16-bit assumption"),
    SensorPreset("lis3dhh", 45.0, None, _bits(2.5, 16), 2.5,
                 "density domain.md §4; +-2.5 g 16-bit (0.076 mg/LSB) assumption"),
    SensorPreset("adxl355", 22.5, None, _bits(2.048, 20), 2.048,
                 "density domain.md §4; +-2.048 g 20-bit (3.9 ug/LSB) assumption"),
    SensorPreset("lsm6dso_lowpower", None, 1.8, _bits(8.0, 16), 8.0,
                 "1.8 mg RMS domain.md §4; +-8 g 16-bit assumption"),
    SensorPreset("cheap_12bit", 250.0, None, 1.0, 2.048,
                 "1 mg/LSB 12-bit +-2 g domain.md §4; density 250 ug/sqrtHz assumption"),
    SensorPreset("polar_h10", 250.0, None, 1.0, 8.0,
                 "raw int16 in mG -> 1 mg/LSB; +-8 g and density 250 ug/sqrtHz assumption"),
)}
