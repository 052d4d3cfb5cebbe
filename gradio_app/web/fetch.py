"""PageFetcher: read the top search results concurrently, within hard limits, without SSRF.

Why our own fetcher (and not trafilatura's): trafilatura's downloader has only per-read timeouts
(a page that trickles a byte a second never times out) and, by default, silently retries a page
without certificate checks after a TLS error. Here:

- one total time budget for all pages together (plus connect/read timeouts per request), and
  Stop (`cancelled()`) is noticed within a tenth of a second;
- a per-page size cap: the body is streamed and reading stops at the cap (the page is kept,
  marked truncated); this counts decompressed bytes, so a gzip bomb stops at the cap too;
- only text/html, application/xhtml+xml and text/plain are read; other types are refused
  before their body is downloaded;
- certificates are always verified (no fallback), proxies from the environment are ignored (a
  proxy would make the address check meaningless), no cookies are kept;
- the SSRF guard (`AddressPolicy`).

How the SSRF guard closes the DNS-rebinding gap: we resolve each host ourselves, check every
address it resolves to, and then connect to the checked IP literal (the URL's host is replaced by
the IP; the Host header and, for HTTPS, the TLS SNI name and certificate check keep the original
name). There is no second lookup between check and connect, so a name that answers "public" to
the check and "127.0.0.1" to the connect cannot slip through. Redirects are not followed by httpx:
each hop's Location is resolved and checked the same way before anything is sent to it. Pooled
connections are disabled (no keep-alive), so a connection opened with one name's SNI is never
reused for another name that shares its address.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from gradio_app.web.addresses import AddressPolicy, AddressRefused, IPAddress
from gradio_app.web.charset import decode_body

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[str]]]

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain",)
REDIRECT_CODES = (301, 302, 303, 307, 308)
USER_AGENT = "Mozilla/5.0 (compatible; PersonalitiesWebUI/0.1; reads pages to answer a user's question)"
_POLL_S = 0.1


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 2_000_000  # per page, after decompression
    total_timeout_s: float = 15.0  # for all pages together
    connect_timeout_s: float = 5.0
    max_redirects: int = 5

    def __post_init__(self) -> None:
        if self.max_bytes < 1024 or self.total_timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ValueError(f"fetch limits out of range: {self}")
        if not 0 <= self.max_redirects <= 20:
            raise ValueError("max_redirects must be between 0 and 20")


@dataclass
class FetchedPage:
    """One URL's outcome. `error` is empty when the page was read; otherwise it says why not."""

    url: str
    final_url: str = ""
    status: int = 0
    content_type: str = ""
    encoding: str = ""
    text: str = ""
    bytes_read: int = 0
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    error: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES

    def summary(self) -> str:
        """One line for the step log."""
        if self.error:
            return f"✗ {self.url} — {self.error}"
        size = _size(self.bytes_read) + (" (cut at the size cap)" if self.truncated else "")
        via = f" via {len(self.redirects)} redirect(s)" if self.redirects else ""
        return f"✓ {self.final_url} — {size}, {self.content_type}{via}"


class FetchError(Exception):
    """A page could not be read; the message is shown to the user as is."""


async def system_resolver(host: str, port: int) -> list[str]:
    """All addresses `host` resolves to (IP literals resolve to themselves)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise FetchError(f"the name {host} does not resolve ({e.strerror or e})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"the name {host} does not resolve")
    return addresses


class PageFetcher:
    def __init__(
        self,
        policy: AddressPolicy | None = None,
        limits: FetchLimits | None = None,
        resolver: Resolver | None = None,
        user_agent: str = USER_AGENT,
        trust: ssl.SSLContext | None = None,
    ) -> None:
        """`trust`: certificate authorities to verify against instead of the system's (an intranet
        CA). Verification itself cannot be turned off."""
        self.policy = policy or AddressPolicy()
        self.limits = limits or FetchLimits()
        self._resolve = resolver or system_resolver
        self._user_agent = user_agent
        if trust is not None and (trust.verify_mode != ssl.CERT_REQUIRED or not trust.check_hostname):
            raise ValueError("a trust context must verify certificates and host names")
        self._trust = trust

    # -- entry points ---------------------------------------------------------------------------
    def fetch_all(self, urls: Sequence[str], cancelled: Callable[[], bool] = lambda: False) -> list[FetchedPage]:
        """Fetch `urls` concurrently; one FetchedPage per URL, in the same order. Never raises for
        a page's failure (it is in the page's `error`). Callable from any thread."""
        return _run_sync(lambda: self.afetch_all(urls, cancelled))

    async def afetch_all(self, urls: Sequence[str], cancelled: Callable[[], bool] = lambda: False) -> list[FetchedPage]:
        pages = [FetchedPage(url=u) for u in urls]
        if not pages:
            return pages
        limits = self.limits
        timeout = httpx.Timeout(connect=limits.connect_timeout_s, read=limits.total_timeout_s, write=5.0, pool=5.0)
        async with httpx.AsyncClient(
            verify=self._trust or True,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=max(4, len(pages)), max_keepalive_connections=0),
            headers={
                "User-Agent": self._user_agent,
                "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
                "Accept-Language": "en;q=0.9,*;q=0.5",
            },
        ) as client:
            started = time.monotonic()
            tasks = {asyncio.create_task(self._fetch_into(client, page)): page for page in pages}
            pending = set(tasks)
            deadline = started + limits.total_timeout_s
            stopped = False
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if cancelled():
                    stopped = True
                    break
                _, pending = await asyncio.wait(pending, timeout=min(_POLL_S, remaining))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            for task in pending:
                page = tasks[task]
                page.error = (
                    "stopped" if stopped else f"timed out (all pages share a {limits.total_timeout_s:g} s budget)"
                )
                page.elapsed_s = time.monotonic() - started
        return pages

    # -- one page -------------------------------------------------------------------------------
    async def _fetch_into(self, client: httpx.AsyncClient, page: FetchedPage) -> None:
        started = time.monotonic()
        try:
            await self._fetch(client, page)
        except AddressRefused as e:
            page.error = str(e)
        except FetchError as e:
            page.error = str(e)
        except httpx.TimeoutException as e:
            page.error = f"timed out ({type(e).__name__})"
        except httpx.HTTPError as e:
            page.error = _describe_http_error(e)
        except (OSError, ValueError) as e:  # malformed URL parts, socket errors outside httpx
            page.error = f"could not read the page ({e})"
        finally:
            page.elapsed_s = time.monotonic() - started
        if page.error:
            log.info("fetch %s failed: %s", page.url, page.error)

    async def _fetch(self, client: httpx.AsyncClient, page: FetchedPage) -> None:
        try:
            url = httpx.URL(page.url)
        except httpx.InvalidURL as e:
            raise FetchError(f"not a valid URL ({e})") from None
        for _hop in range(self.limits.max_redirects + 1):
            response = await self._send_checked(client, url)
            try:
                if response.status_code in REDIRECT_CODES and response.headers.get("location"):
                    url = url.join(response.headers["location"])
                    page.redirects.append(str(url))
                    continue
                page.final_url, page.status = str(url), response.status_code
                if response.status_code >= 400:
                    raise FetchError(f"the server answered HTTP {response.status_code} {response.reason_phrase}")
                await self._read_body(response, page)
                return
            finally:
                await response.aclose()
        raise FetchError(f"more than {self.limits.max_redirects} redirects")

    async def _send_checked(self, client: httpx.AsyncClient, url: httpx.URL) -> httpx.Response:
        """Resolve, check every address, then send to the checked address itself."""
        if url.scheme not in ("http", "https"):
            raise FetchError(f"only http and https pages are read, not {url.scheme or 'this'}: links")
        if url.userinfo:
            raise FetchError("URLs with a user name or password are not read")
        if not url.raw_host:
            raise FetchError("the URL has no host")
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = self.policy.check_all(host, await self._resolve(host, port))
        headers = {"Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if url.scheme == "https" and not _is_ip(host) else {}
        last_error: Exception | None = None
        for address in addresses:
            request = client.build_request("GET", _with_address(url, address), headers=headers, extensions=extensions)
            try:
                return await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                last_error = e  # try the host's next address, as a browser would
        assert last_error is not None
        raise last_error

    async def _read_body(self, response: httpx.Response, page: FetchedPage) -> None:
        header = response.headers.get("content-type", "")
        media_type = header.split(";", 1)[0].strip().lower()
        if media_type and media_type not in HTML_TYPES + TEXT_TYPES:
            raise FetchError(f"not a web page ({media_type})")
        cap = self.limits.max_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > cap:
                chunks.append(chunk[: cap - size])
                page.truncated = True
                break  # closing the response drops the connection: nothing more is downloaded
            chunks.append(chunk)
            size += len(chunk)
        body = b"".join(chunks)
        page.bytes_read = len(body)
        if not media_type:
            media_type = _sniff(body)
            if not media_type:
                raise FetchError("not a web page (no content type, and the bytes are not HTML)")
        page.content_type = media_type
        page.text, page.encoding = decode_body(body, header)


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.1f} MB"


def _sniff(body: bytes) -> str:
    head = body[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html"
    return ""


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _with_address(url: httpx.URL, address: IPAddress) -> httpx.URL:
    return url.copy_with(host=str(address))


def _describe_http_error(error: httpx.HTTPError) -> str:
    text = str(error) or type(error).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return f"the TLS certificate could not be verified ({text})"
    if isinstance(error, httpx.ConnectError):
        return f"could not connect ({text})"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({text})"
    return f"could not read the page ({text})"


def _run_sync(make: Callable[[], Awaitable[list[FetchedPage]]]) -> list[FetchedPage]:
    """Run a coroutine to completion from sync code, also when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # type: ignore[arg-type]
    box: dict[str, object] = {}

    def worker() -> None:
        try:
            box["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=worker, name="page-fetch", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
