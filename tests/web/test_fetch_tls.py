"""HTTPS through the SSRF guard: the connection goes to the checked IP, the certificate is still
checked against the name, and a bad certificate is refused (never retried without checks), by the
page reader and by the SearXNG client alike."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gradio_app.web.fetch import PageFetcher
from gradio_app.web.search import SearchFailed, SearxngSearch
from tests.web.conftest import TEST_POLICY
from tests.web.site import LIGHTHOUSE


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = LIGHTHOUSE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for the name web.test."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=web.test",
         "-addext", "subjectAltName=DNS:web.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()
    thread.join(5)


async def _to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]  # web.test and other.test "resolve" to the test server


def test_https_goes_to_the_checked_address_and_verifies_the_name(tls_site):
    port, cert = tls_site
    trust = ssl.create_default_context(cafile=str(cert))
    fetcher = PageFetcher(TEST_POLICY, resolver=_to_loopback, trust=trust)
    (page,) = fetcher.fetch_all([f"https://web.test:{port}/lighthouse"])
    assert page.ok, page.error
    assert "Kessin lighthouse" in page.text


def test_a_certificate_for_another_name_is_refused(tls_site):
    port, cert = tls_site
    fetcher = PageFetcher(TEST_POLICY, resolver=_to_loopback, trust=ssl.create_default_context(cafile=str(cert)))
    (page,) = fetcher.fetch_all([f"https://other.test:{port}/lighthouse"])
    assert page.error.startswith("the TLS certificate could not be verified")


def test_an_untrusted_certificate_is_refused_without_an_unverified_retry(tls_site):
    port, _ = tls_site
    (page,) = PageFetcher(TEST_POLICY, resolver=_to_loopback).fetch_all([f"https://web.test:{port}/lighthouse"])
    assert page.error.startswith("the TLS certificate could not be verified") and page.text == ""


def test_a_trust_context_cannot_switch_verification_off():
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    with pytest.raises(ValueError, match="must verify"):
        PageFetcher(trust=lax)


def test_a_searxng_instance_with_an_untrusted_certificate_is_refused_not_read(tls_site):
    port, _ = tls_site
    with pytest.raises(SearchFailed) as failed:
        SearxngSearch(f"https://127.0.0.1:{port}").search("kessin", max_results=3, timeout_s=5)
    assert failed.value.kind == "error" and "TLS certificate" in str(failed.value)
