"""Entry points of ``twitchwatch record --source sensorlogger|phyphox``.

Each checks what can be checked before a night file exists (the address can be bound,
phyphox answers with a usable experiment), creates the night file, records until the
duration ends or SIGINT / SIGTERM, and returns the statistics and the live detector (the
command line stores its analysis).  Messages for the person at the terminal go through
``announce(text, warning=False)``; nothing here prints.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import WifiError
from .receiver import parse_listen, reachable_beyond_machine
from .sensorlogger_push import PHONE
from .sensorlogger_session import SensorLoggerSession, WifiStats, secondary_kind

log = logging.getLogger(__name__)


@dataclass
class RecordResult:
    stats: WifiStats
    detector: object | None
    path: Path


def _detector_factory():
    from detect import Detector, DetectorConfig

    return lambda rate_hz: Detector(DetectorConfig(sample_rate_hz=float(rate_hz)))


def _check_bind(host: str, port: int) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WifiError(f"--listen {host}: not an address of this machine ({exc.strerror or exc})") from None
    fam, typ, proto, _, addr = infos[0]
    with socket.socket(fam, typ, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise WifiError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another "
                            f"--listen address or port") from None


async def _run_with_signals(session, **run_kwargs) -> WifiStats:
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGINT, signal.SIGTERM)
    for sig in sigs:
        try:
            loop.add_signal_handler(sig, session.request_stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    try:
        return await session.run(**run_kwargs)
    finally:
        for sig in sigs:
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass


def _writer(path: Path, *, timezone: str, force: bool, device: dict, kinds: tuple[str, ...],
            rate_hz: float | None, source: str):
    from twitchwatch.store import ChannelSpec, NightWriter

    return NightWriter.create(path, timezone=timezone, force=force, device=device,
                              channels=tuple(ChannelSpec(k, float(rate_hz) if rate_hz and k == "acc" else None)
                                             for k in kinds),
                              meta={"source_format": source})


async def record_sensorlogger(*, path: Path, timezone: str, listen: str | None, primary: str = PHONE,
                              rate_hz: float | None = None, duration_s: float | None = None,
                              force: bool = False, label: str | None = None, placement: str | None = None,
                              on_status=None, announce: Callable[..., None] = lambda *a, **k: None,
                              token: str | None = None) -> RecordResult:
    """Receive Sensor Logger's push into a new night file at ``path``."""
    host, port = parse_listen(listen)
    _check_bind(host, port)
    other = secondary_kind(primary)
    device = {"kind": "sensorlogger-push", "name": "Sensor Logger (HTTP push)", "label": label,
              "placement": placement or ("mattress" if primary == PHONE else "wrist"),
              "settings": {"primary_stream": primary, "channels": {"acc": primary, other: other[4:]},
                           "axes": "as pushed (platform not in the push)"}}
    writer = _writer(path, timezone=timezone, force=force, device=device, kinds=("acc", other),
                     rate_hz=rate_hz, source="sensorlogger-push")
    session = SensorLoggerSession(writer, _detector_factory(), primary=primary, rate_hz=rate_hz,
                                  host=host, port=port, duration_s=duration_s, token=token,
                                  on_status=on_status)

    def ready(receiver):
        announce(f"In Sensor Logger: Settings > Data Streaming > HTTP Push, enable it, and set the push URL to\n"
                 f"    {receiver.url()}\n"
                 f"then start a recording in the app.  Ctrl-C ends the night.")
        if reachable_beyond_machine(host):
            announce(f"listening on {host}:{receiver.port}: every device on this network can reach it. "
                     f"The token in the URL is the only lock and HTTP is not encrypted: use a home network "
                     f"you trust, and end the recording in the morning", warning=True)
        else:
            announce(f"listening on {host}, which only this machine can reach; a phone needs "
                     f"--listen <this machine's LAN address>:{receiver.port}", warning=True)

    try:
        stats = await _run_with_signals(session, on_ready=ready)
    finally:
        writer.close()
    return RecordResult(stats, session.detector, path)


async def record_phyphox(*, path: Path, timezone: str, url: str, rate_hz: float | None = None,
                         duration_s: float | None = None, force: bool = False, label: str | None = None,
                         placement: str | None = None, on_status=None,
                         announce: Callable[..., None] = lambda *a, **k: None, **session_kwargs) -> RecordResult:
    """Poll phyphox's remote access at ``url`` into a new night file at ``path``."""
    from urllib.parse import urlsplit

    from .phyphox_session import PhyphoxSession, check_phyphox

    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WifiError(f"--url {url!r}: give the address phyphox shows, e.g. http://192.168.1.23:8080")
    url = f"{parts.scheme}://{parts.netloc}"
    cfg = await check_phyphox(url)
    device = {"kind": "phyphox-remote", "name": f"phyphox: {cfg.get('title', '?')}", "address": parts.hostname,
              "label": label, "placement": placement or "mattress",
              "settings": {"experiment": cfg.get("title"), "crc32": cfg.get("crc32")}}
    writer = _writer(path, timezone=timezone, force=force, device=device, kinds=("acc",), rate_hz=rate_hz,
                     source="phyphox-remote")
    session = PhyphoxSession(writer, _detector_factory(), url=url, rate_hz=rate_hz, duration_s=duration_s,
                             on_status=on_status, **session_kwargs)
    announce(f"recording phyphox at {url} ({cfg.get('title', '?')}); Ctrl-C ends the night")
    try:
        stats = await _run_with_signals(session)
    finally:
        writer.close()
    return RecordResult(stats, session.detector, path)
