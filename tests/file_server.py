"""A real HTTP file server on 127.0.0.1 that answers like the Hugging Face Hub's file CDN (HTTP
Range, 206/416), and can cut a transfer short or ignore Range on purpose."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port


class Hub:
    """A file server that speaks HTTP Range like the Hub's CDN, and can misbehave on purpose."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[dict[str, str]] = []
        self.cut_after: int | None = None  # drop the connection after this many body bytes
        self.ignore_range = False
        self.slow = False
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.send_response(200)
                self.end_headers()

            def do_GET(self):
                hub.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
                data = hub.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                header = self.headers.get("Range", "")
                if header.startswith("bytes=") and not hub.ignore_range:
                    start = int(header[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                limit = len(body) if hub.cut_after is None else min(hub.cut_after, len(body))
                sent = 0
                while sent < limit:
                    chunk = body[sent : min(limit, sent + 65536)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if hub.slow:
                        threading.Event().wait(0.05)
                if limit < len(body):
                    self.wfile.flush()
                    self.connection.close()  # mid-transfer: the client sees a short body

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
