"""Recorder CPU and memory over a simulated hour (`make bench` prints it).

The recording session runs against the scripted band of the tests (tests/fakeband.py),
one hour of device time played 100x faster.  CPU is the process's user+system time per
hour of recorded data, as a share of one core; it includes the scripted band itself, so
it is an upper bound.  Memory is the resident set sampled every 5 % of the hour: flat
means no growth after the first minutes.
"""
from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def measure(rate_hz: float, hours: float = 1.0, speed: float = 100.0) -> dict:
    from detect import Detector, DetectorConfig
    from sensor.profiles import PolarProfile
    from sensor.session import RecordingSession, SessionSettings
    from tests.fakeband import FakeBand, FakeLink, FastTime
    from twitchwatch.store import ChannelSpec, NightWriter

    clock = FastTime(speed)
    band = FakeBand(clock, fs=rate_hz, per_frame=int(rate_hz // 10), log_sent=False)
    rss = []

    async def link_factory():
        return FakeLink(band)

    async def sampler(duration_s):
        step = duration_s / 20
        for _ in range(20):
            await clock.sleep(step)
            rss.append(_rss_mb())

    async def main(path):
        btask = asyncio.create_task(band.run())
        stask = asyncio.create_task(sampler(hours * 3600))
        with NightWriter.create(path, timezone="UTC", channels=(ChannelSpec("acc", rate_hz),)) as w:
            s = RecordingSession(link_factory, PolarProfile(rate_hz=int(rate_hz)), w,
                                 Detector(DetectorConfig(sample_rate_hz=rate_hz)),
                                 SessionSettings(rate_hz=rate_hz, duration_s=hours * 3600), time_source=clock)
            stats = await s.run()
        btask.cancel()
        stask.cancel()
        return stats

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as d:
        stats = asyncio.run(main(Path(d) / "n.night"))
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"rate": rate_hz, "samples": stats.samples, "cpu_s": cpu,
            "core_share": cpu / (hours * 3600), "rss_first": rss[1] if len(rss) > 1 else None,
            "rss_last": rss[-1] if rss else None}


if __name__ == "__main__":
    for fs in (200.0, 416.0):
        m = measure(fs)
        print(m)
