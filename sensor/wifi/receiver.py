"""The HTTP receiver for Sensor Logger's push: one endpoint, a per-session token, bounded.

It serves exactly one thing, ``POST /push/<token>``; every other path is 404, every
other method 405.  The checks, cheapest first, so that a stranger costs nothing:

1. the token in the path (compared in constant time), else **403**, body unread;
2. a declared Content-Length over ``max_body`` bytes, else **413**, body unread;
3. a place among ``max_in_flight`` requests reading their body, else **503** with
   ``Retry-After`` (this bounds memory under a flood: at most max_in_flight bodies of at
   most max_body bytes are held at once);
4. the body, read within ``body_timeout_s`` (else 408) and at most ``max_body`` bytes
   (else 413), decoded as JSON (else **400**);
5. ``handle(obj)`` (synchronous, on the event loop, so batches never interleave): a
   :class:`PayloadError` is 400, a :class:`ForeignDeviceError` 409, success 200.

Connections are capped too (``max_connections``): a connection beyond the cap gets a
bare 503 and is closed before anything of its request is read.  Each open connection can
hold a few hundred kB of unread request in aiohttp's buffers, so without the cap a flood of
connections would grow memory with their number.

No response stops the session.  aiohttp's access log is off: it would write the token
(the URL path) into logs; this module logs at most its first 4 characters.  The
``Server`` header is removed.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from dataclasses import dataclass, field
from typing import Callable

from .errors import ForeignDeviceError, PayloadError, WifiError

log = logging.getLogger(__name__)

#: Largest accepted body.  A 1-s batch at 100 Hz of the phone's acceleration, gravity,
#: gyroscope and the watch's wrist motion is ~70 kB of JSON; 2 MiB leaves room for
#: batch periods of tens of seconds and for faster rates.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: Requests reading their body at once; more get 503.  The phone pushes one batch per
#: period, so a handful is plenty.
MAX_IN_FLIGHT = 4
#: Open connections at once; more are answered 503 and closed unread.  The phone needs one
#: or two (keep-alive); the cap bounds memory under a flood of connections.
MAX_CONNECTIONS = 32
#: A body that takes longer than this to arrive is dropped (408): a slow sender cannot
#: hold a place for ever.
BODY_TIMEOUT_S = 20.0
#: Path of the single endpoint.
PUSH_PATH = "/push"
DEFAULT_PORT = 8765


def new_token() -> str:
    """A random per-session token, safe in a URL path (128 bits)."""
    return secrets.token_urlsafe(16)


def redact(token: str) -> str:
    """What logs may show of a token."""
    return token[:4] + "…"


def parse_listen(text: str | None) -> tuple[str, int]:
    """'HOST:PORT', 'HOST' or ':PORT' (IPv6 as [::1]:PORT) -> (host, port)."""
    if not text:
        return "127.0.0.1", DEFAULT_PORT
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_s = text.split(":")
    elif ":" in text:
        host, port_s = text, ""   # bare IPv6 address
    else:
        host, port_s = text, ""
    host = host or "127.0.0.1"
    try:
        port = int(port_s) if port_s else DEFAULT_PORT
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise WifiError(f"--listen {text!r}: the port must be a number from 0 to 65535 "
                        f"(e.g. --listen 192.168.1.20:8765)") from None
    return host, port


def reachable_beyond_machine(host: str) -> bool:
    """True unless ``host`` is a loopback address or name (then only this machine reaches it)."""
    if host.lower() in ("localhost", "localhost."):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return True
        return not all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def lan_address() -> str | None:
    """This machine's address on the network that leads outside, for the URL to type.

    A UDP socket 'connected' to a documentation address (TEST-NET-1) sends nothing; the
    kernel only picks the interface and source address it would use.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return None


@dataclass
class ReceiverStats:
    accepted: int = 0
    rejected: dict = field(default_factory=dict)   # HTTP status -> count

    def reject(self, status: int) -> None:
        self.rejected[status] = self.rejected.get(status, 0) + 1


class PushReceiver:
    """An aiohttp server with the single push endpoint.

    handle : callable(obj) run for every accepted JSON body; raises PayloadError (400)
        or ForeignDeviceError (409) to refuse it.
    """

    def __init__(self, handle: Callable[[object], None], *, token: str | None = None,
                 max_body: int = MAX_BODY_BYTES, max_in_flight: int = MAX_IN_FLIGHT,
                 max_connections: int = MAX_CONNECTIONS, body_timeout_s: float = BODY_TIMEOUT_S):
        self._handle = handle
        self.token = token or new_token()
        self.max_body = max_body
        self.max_in_flight = max_in_flight
        self.max_connections = max_connections
        self._server = None
        self.body_timeout_s = body_timeout_s
        self.stats = ReceiverStats()
        self._in_flight = 0
        self._runner = None
        self.host: str | None = None
        self.port: int | None = None
        self.last_request_mono: float | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str, port: int) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=self.max_body)
        for path in (PUSH_PATH, PUSH_PATH + "/", PUSH_PATH + "/{token}"):
            app.router.add_post(path, self._push)
        app.on_response_prepare.append(_strip_server_header)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        handlers = self._runner.server   # aiohttp's protocol factory; it tracks open connections
        loop = asyncio.get_running_loop()
        fresh = [0]   # accepted, maybe not yet in handlers.connections (registered a tick later)

        def forget():
            fresh[0] -= 1

        def protocol():
            if len(handlers.connections) + fresh[0] >= self.max_connections:
                self.stats.reject(503)
                return _Overloaded()
            fresh[0] += 1
            # two ticks: by then aiohttp has registered the connection (counted twice meanwhile)
            loop.call_soon(loop.call_soon, forget)
            return handlers()

        try:
            self._server = await loop.create_server(
                protocol, host, port, reuse_address=True)
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise WifiError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another "
                            f"--listen address or port") from None
        # the port actually bound (port 0 picks a free one)
        self.host, self.port = host, self._server.sockets[0].getsockname()[1]
        log.info("push receiver listening on %s:%d (token %s)", host, self.port, redact(self.token))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, host: str | None = None) -> str:
        """The URL to type into the app (it holds the token: print it, never log it)."""
        h = host or self.host
        if h in ("0.0.0.0", "::", ""):
            h = lan_address() or socket.gethostname()
        if ":" in h:
            h = f"[{h}]"
        return f"http://{h}:{self.port}{PUSH_PATH}/{self.token}"

    # ------------------------------------------------------------------ the endpoint
    async def _push(self, request):
        from aiohttp import web

        loop = asyncio.get_running_loop()
        given = request.match_info.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            self.stats.reject(403)
            log.info("push refused: wrong or missing token")
            return _refuse(403, "forbidden")
        if request.content_length is not None and request.content_length > self.max_body:
            self.stats.reject(413)
            log.warning("push refused: %d bytes, over the %d-byte limit", request.content_length, self.max_body)
            return _refuse(413, "payload too large")
        if self._in_flight >= self.max_in_flight:
            self.stats.reject(503)
            return _refuse(503, "busy", {"Retry-After": "1"})
        self._in_flight += 1
        try:
            try:
                body = await asyncio.wait_for(request.read(), self.body_timeout_s)
            except web.HTTPRequestEntityTooLarge:
                self.stats.reject(413)
                log.warning("push refused: body over the %d-byte limit", self.max_body)
                return _refuse(413, "payload too large")
            except asyncio.TimeoutError:
                self.stats.reject(408)
                return _refuse(408, "body too slow")
        finally:
            self._in_flight -= 1
        self.last_request_mono = loop.time()
        try:
            obj = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            self.stats.reject(400)
            log.warning("push refused: not JSON (%s)", str(exc)[:80])
            return web.Response(status=400, text="not JSON\n")
        try:
            self._handle(obj)
        except PayloadError as exc:
            self.stats.reject(400)
            log.warning("push refused: %s", exc)
            return web.Response(status=400, text=f"{exc}\n")
        except ForeignDeviceError as exc:
            self.stats.reject(409)
            log.warning("push refused: %s", exc)
            return web.Response(status=409, text="another phone is being recorded\n")
        self.stats.accepted += 1
        return web.Response(status=200, text="ok\n")


class _Overloaded(asyncio.Protocol):
    """A connection over the cap: a bare 503, closed; nothing of the request is read."""

    def connection_made(self, transport) -> None:
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                        b"Retry-After: 1\r\nConnection: close\r\n\r\n")
        transport.close()


def _refuse(status: int, text: str, headers: dict | None = None):
    """A refusal that closes the connection: an unread body is not drained into memory."""
    from aiohttp import web

    resp = web.Response(status=status, text=text + "\n", headers=headers)
    resp.force_close()
    return resp


async def _strip_server_header(request, response) -> None:
    response.headers.pop("Server", None)
