"""Tell a phone export apart: Sensor Logger or phyphox (zip or unzipped folder)."""
from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import InputFileError
from ..readers import Recording


def _is_phyphox(names: list[str]) -> bool:
    # phyphox exports carry meta/time.csv and meta/device.csv beside the data
    return any(n.replace("\\", "/").endswith(("meta/time.csv", "meta/device.csv")) for n in names)


def read_phone_export(path: Path) -> Recording:
    path = Path(path)
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()]
    else:
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            raise InputFileError(f"{path}: not a readable zip file") from None
    if _is_phyphox(names):
        from .phyphox import read_phyphox

        return read_phyphox(path)
    from .sensorlogger import read_sensorlogger

    return read_sensorlogger(path)
