"""A small website on 127.0.0.1 for the web tests: real HTTP, real pages, real misbehaviour.

Articles are about invented things (the Marlow glass frog, the Kessin lighthouse) so a test can
tell text the model read from text it knew. Each article sits inside the boilerplate real pages
have (navigation, cookie banner, sidebar, comments, footer) that extraction must drop.

The site also answers SearXNG's search API (`GET /search?q=...&format=json`) over its own
articles, ranked by BM25 (`LocalIndexSearch`), so the app's SearXNG backend can be pointed at it:
the launched-app tests search and read pages through the same code a user's instance would use.
Under other prefixes the API misbehaves the way real instances do (`/searxng-403/search`...).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.web.local_index import IndexedPage, LocalIndexSearch

BOILERPLATE_MARKERS = ("Accept all cookies", "Subscribe to our newsletter", "Great article, thanks", "© 2024 Daily")


def article_page(title: str, paragraphs: list[str], lang: str = "en") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
  <meta charset="utf-8">
  <title>{title} | Daily Naturalist</title>
  <meta name="description" content="{paragraphs[0][:120]}">
  <script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
  <style>body {{ font-family: sans-serif; }} .cookie {{ position: fixed; }}</style>
</head>
<body>
  <div class="cookie-banner" id="cookies">We use cookies to improve your experience.
    <button>Accept all cookies</button> <button>Manage preferences</button></div>
  <header class="site-header">
    <a href="/">Daily Naturalist</a>
    <nav><ul><li><a href="/news">News</a></li><li><a href="/animals">Animals</a></li>
    <li><a href="/places">Places</a></li><li><a href="/about">About us</a></li></ul></nav>
  </header>
  <main>
    <article>
      <h1>{title}</h1>
      <p class="byline">By Ada Fenwick · 12 March 2024 · 6 min read</p>
      {body}
    </article>
    <aside class="sidebar">
      <h3>Most read</h3>
      <ul><li><a href="/a">Ten birds you can see this spring</a></li>
      <li><a href="/b">Why moss grows on the north side</a></li></ul>
      <div class="newsletter">Subscribe to our newsletter for weekly stories. <input type="email"></div>
    </aside>
    <section class="comments" id="comments">
      <h3>Comments</h3>
      <div class="comment"><p>Great article, thanks! I saw one last summer near the river.</p></div>
      <div class="comment"><p>Does anyone know where to buy binoculars like these?</p></div>
    </section>
  </main>
  <footer><p>© 2024 Daily Naturalist. All rights reserved.</p>
    <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></footer>
</body>
</html>"""


FROG = article_page(
    "The Marlow glass frog, a tiny amphibian you can see through",
    [
        "The Marlow glass frog was first described in 2019 by biologists working in the Vellan Highlands, "
        "a range of cloud forest hills. Its belly skin is so transparent that its heart can be seen beating.",
        "Adult Marlow glass frogs are small: males measure about 21 millimetres from snout to vent, and "
        "females are slightly larger at around 24 millimetres. They weigh less than a paper clip.",
        "The frog lives along fast mountain streams between 1,400 and 2,100 metres of altitude. Females lay "
        "their eggs on the underside of leaves hanging over the water, and the tadpoles drop into the stream "
        "when they hatch, about two weeks later.",
        "Its call is a short metallic whistle repeated three times, heard mostly after heavy rain. Researchers "
        "estimate that fewer than 5,000 adults remain, and the species is listed as vulnerable because of "
        "forest clearing for cattle pasture.",
    ],
)

LIGHTHOUSE = article_page(
    "The Kessin lighthouse: 150 years on the cliff",
    [
        "The Kessin lighthouse stands on the chalk cliff above the harbour of Kessin. It was built in 1874 "
        "from red brick and is 38 metres tall, which makes it the tallest lighthouse on that coast.",
        "Its lamp was first fuelled by rapeseed oil, then by paraffin, and it was electrified in 1931. The "
        "light can be seen from 22 nautical miles away and flashes white every seven seconds.",
        "The last keeper, Henrik Olsen, left in 1989 when the light was automated. Today the tower is a "
        "museum, and visitors can climb its 196 steps from April to October.",
    ],
)

BREAD = article_page(
    "How to keep a sourdough starter alive on holiday",
    [
        "A sourdough starter is a culture of wild yeast and bacteria living in flour and water. Before a long "
        "trip, feed it, let it rise for an hour, and put it in the refrigerator, where it slows down.",
        "A well fed starter survives about three weeks in the cold. For longer breaks, spread a thin layer on "
        "baking paper, let it dry completely, and keep the flakes in a jar; they revive in a few days.",
    ],
)

SCRIPT_ONLY = """<!DOCTYPE html><html><head><title>App</title></head>
<body><div id="root"></div><script>document.getElementById('root').innerText = 'loading';</script>
<noscript>You need to enable JavaScript to run this app.</noscript></body></html>"""

# "café", "naïve", "déjà vu" in windows-1252, under a charset label nobody knows.
BAD_CHARSET_TEXT = (
    "The café on the harbour serves naïve painters and their déjà vu. "
    "It opened in 1921 and has kept the same zinc counter ever since, polished every morning by the owner. "
    "Fishermen come at dawn for black coffee, and in the afternoon the painters set their easels on the quay, "
    "trying to catch the light on the water before the tide turns."
)
BAD_CHARSET_PAGE = article_page("The harbour café", [BAD_CHARSET_TEXT]).replace('<meta charset="utf-8">', "")

PLAIN_TEXT = (
    "Kessin harbour tide table notes.\nHigh tide on the first Sunday of May is at 06:12 and 18:40.\n"
    "The harbour master asks boats to keep below four knots inside the breakwater.\n"
)

HUGE_CHUNK = b"<p>" + b"filler text that goes on and on " * 2000 + b"</p>\n"  # ~64 KB
HUGE_CHUNKS = 160  # ~10 MB in total, far beyond any cap the tests use


@dataclass
class SiteLog:
    """What the server saw, so tests can check what was (not) requested or sent."""

    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    searches: list[dict[str, str]] = field(default_factory=list)  # SearXNG API calls' parameters
    huge_bytes_sent: int = 0
    huge_finished: bool = False
    slow_finished: bool = False


class _Handler(BaseHTTPRequestHandler):
    server: _SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, b"", "text/html", {"Location": location})

    def do_GET(self) -> None:
        site = self.server
        site.log.requests.append((self.path, self.headers.get("Host", "")))
        path = self.path.split("?", 1)[0]
        html = "text/html; charset=utf-8"
        pages = {
            "/articles/glass-frog.html": FROG,
            "/articles/kessin-lighthouse.html": LIGHTHOUSE,
            "/articles/sourdough.html": BREAD,
            "/app.html": SCRIPT_ONLY,
        }
        if path in pages:
            if path.startswith("/articles/") and site.page_delay_s and site.closing.wait(site.page_delay_s):
                return  # the site is closing
            self._send_quietly(200, pages[path].encode("utf-8"), html)
        elif path.endswith("/search"):
            self._searxng(path.removesuffix("/search"))
        elif path == "/redirect/1":
            self._redirect(302, "/redirect/2")
        elif path == "/redirect/2":
            self._redirect(301, f"http://127.0.0.1:{site.port}/articles/glass-frog.html")
        elif path == "/redirect/loop":
            self._redirect(302, "/redirect/loop")
        elif path == "/redirect/to-other-loopback":
            self._redirect(302, f"http://127.0.0.2:{site.port}/articles/glass-frog.html")
        elif path == "/redirect/to-metadata":
            self._redirect(307, "http://169.254.169.254/latest/meta-data/")
        elif path == "/redirect/to-localhost-name":
            self._redirect(302, f"http://localhost:{site.port}/articles/glass-frog.html")
        elif path == "/report.pdf":
            self._send(200, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n", "application/pdf")
        elif path == "/bad-charset.html":
            self._send(200, BAD_CHARSET_PAGE.encode("cp1252"), "text/html; charset=no-such-charset")
        elif path == "/notes.txt":
            self._send(200, PLAIN_TEXT.encode("utf-8"), "text/plain; charset=utf-8")
        elif path == "/huge.html":
            self._huge()
        elif path == "/slow.html":
            self._slow()
        else:
            self._send(404, b"<h1>Not found</h1>", html)

    def _send_quietly(self, status: int, body: bytes, content_type: str) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the reader gave up meanwhile
            self._send(status, body, content_type)

    def _searxng(self, prefix: str) -> None:
        """SearXNG's JSON search API over the site's articles; other prefixes fail like real instances."""
        site = self.server
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        site.log.searches.append(query)
        as_json = "application/json"
        if prefix == "/searxng-403":  # an instance whose settings.yml does not enable the json format
            self._send(403, b"<h1>403 Forbidden</h1>", "text/html")
        elif prefix == "/searxng-429":  # its limiter
            self._send(429, b"Too Many Requests", "text/plain")
        elif prefix == "/searxng-html":  # not SearXNG at all
            self._send(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif prefix == "/searxng-silent":  # accepts, then never answers
            site.closing.wait(60)
        elif prefix == "/searxng-broken":  # every engine failed
            body = {"query": query.get("q", ""), "results": [], "unresponsive_engines": [["google", "timeout"]]}
            self._send(200, json.dumps(body).encode(), as_json)
        elif prefix:
            self._send(404, b"<h1>Not found</h1>", "text/html")
        elif query.get("format") != "json":
            self._send(403, b"<h1>403 Forbidden</h1>", "text/html")
        elif not self._valid_searxng_query(query):
            self._send(400, b"Bad Request", "text/plain")
        else:
            hits = site.index.search(query["q"], max_results=20)
            results = [
                {"url": h.url, "title": h.title, "content": h.snippet, "engine": "local", "engines": ["local"],
                 "positions": [i], "score": 1.0 / i, "category": "general"}
                for i, h in enumerate(hits, 1)
            ]  # fmt: skip
            body = {"query": query["q"], "number_of_results": len(results), "results": results, "answers": [],
                    "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []}  # fmt: skip
            self._send(200, json.dumps(body).encode(), as_json)

    @staticmethod
    def _valid_searxng_query(query: dict[str, str]) -> bool:
        """What SearXNG's webadapter checks: a query, safesearch 0-2, a language code."""
        language_ok = re.fullmatch(r"all|auto|[a-z]{2,3}(-[A-Z]{2})?", query.get("language", "all"))
        return bool(query.get("q")) and query.get("safesearch", "0") in ("0", "1", "2") and bool(language_ok)

    def _huge(self) -> None:
        log = self.server.log
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(HUGE_CHUNK) * HUGE_CHUNKS + 30))
        self.end_headers()
        try:
            self.wfile.write(b"<html><body><h1>Huge</h1>\n")
            for _ in range(HUGE_CHUNKS):
                self.wfile.write(HUGE_CHUNK)
                log.huge_bytes_sent += len(HUGE_CHUNK)
            self.wfile.write(b"</body></html>")
            log.huge_finished = True
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _slow(self) -> None:
        """Headers at once, then a trickle: a per-read timeout alone would never fire."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        try:
            self.wfile.write(b"<html><body><p>")
            for _ in range(60):
                if self.server.closing.is_set():
                    return
                self.wfile.write(b"slow ")
                self.wfile.flush()
                time.sleep(0.25)
            self.wfile.write(b"</p></body></html>")
            self.server.log.slow_finished = True
        except (BrokenPipeError, ConnectionResetError):
            pass


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    log: SiteLog
    port: int
    closing: threading.Event
    index: LocalIndexSearch
    page_delay_s: float = 0.0


def page_words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


ARTICLES = {  # path: (page, title, snippet), as a search engine would list them
    "/articles/glass-frog.html": (
        FROG,
        "The Marlow glass frog, a tiny amphibian you can see through",
        "A transparent frog of the Vellan Highlands, described in 2019.",
    ),
    "/articles/kessin-lighthouse.html": (
        LIGHTHOUSE,
        "The Kessin lighthouse: 150 years on the cliff",
        "The red brick tower above Kessin harbour, built in 1874.",
    ),
    "/articles/sourdough.html": (
        BREAD,
        "How to keep a sourdough starter alive on holiday",
        "Feed it, chill it, or dry it.",
    ),
}


class Site:
    """The running site. `url(path)` gives an address on it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.server = _SiteServer((host, 0), _Handler)
        self.server.log = SiteLog()
        self.server.closing = threading.Event()
        self.port = self.server.port = self.server.server_address[1]
        self.host = host
        pages = [IndexedPage(self.url(path), t, snip, page_words(html)) for path, (html, t, snip) in ARTICLES.items()]
        self.server.index = LocalIndexSearch(pages)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def log(self) -> SiteLog:
        return self.server.log

    @property
    def index(self) -> LocalIndexSearch:
        """The search index of the site's articles (what its SearXNG API answers from)."""
        return self.server.index

    @property
    def page_delay_s(self) -> float:
        return self.server.page_delay_s

    @page_delay_s.setter
    def page_delay_s(self, seconds: float) -> None:
        """Hold every article this long before answering (a slow site, to press Stop during)."""
        self.server.page_delay_s = seconds

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self.server.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
