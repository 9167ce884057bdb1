"""Run a virtual band in a child process (closer to a real device than an asyncio task).

The child is ``python -m sensor.virtual_band --settings-json ...``; it prints
``READY <address> <name>`` on stdout once registered, and stops cleanly on SIGTERM (a
connected central then sees the link drop, as when a band is switched off).
"""
from __future__ import annotations

import dataclasses
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .band import VirtualBandSettings
from .truth import GroundTruth


class VirtualBandProcess:
    """Start, stop and read back a band in a child process.

    ``env`` defaults to this process's environment (so DBUS_SYSTEM_BUS_ADDRESS carries
    over).  The child's stderr goes to a temporary file, shown in errors.
    """

    def __init__(self, settings: VirtualBandSettings, env: dict | None = None) -> None:
        if settings.truth_path is None:
            fd, path = tempfile.mkstemp(prefix="virtual-band-", suffix=".jsonl")
            os.close(fd)
            settings = dataclasses.replace(settings, truth_path=path)
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.proc: subprocess.Popen | None = None
        self.address: str | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+b")

    def start(self, timeout: float = 30.0) -> "VirtualBandProcess":
        root = str(Path(__file__).resolve().parents[2])
        env = dict(self.env)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sensor.virtual_band", "--settings-json",
             self.settings.to_json()],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=root)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"virtual band exited with {self.proc.returncode} before it "
                                   f"was ready:\n{self.stderr_tail()}")
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                line = self.proc.stdout.readline()
                if line.startswith(b"READY"):
                    self.address = line.split()[1].decode()
                    return self
        self.stop()
        raise TimeoutError(f"virtual band not ready after {timeout} s:\n{self.stderr_tail()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def stderr_tail(self, lines: int = 30) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def truth(self) -> GroundTruth:
        return GroundTruth.load_jsonl(self.settings.truth_path)

    def __enter__(self) -> "VirtualBandProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["VirtualBandProcess"]
