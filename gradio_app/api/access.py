"""Who may use the machine-facing routes (/v1, MCP): one rule for all of them.

Open when the app has neither API keys nor sign-in users. Otherwise a request needs
`Authorization: Bearer <key>` with one of the API keys, or, when the app signs users in (--auth),
that user's own credentials: `Bearer user:password` (what an OpenAI or MCP client sends as its key)
or HTTP Basic. Gradio's login protects the page and its own API; these routes are ours (or, for
MCP, mounted by Gradio without its login check), so sign-in must not leave them open.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiAccess:
    def __init__(self, api_keys: Iterable[str] = (), users: Iterable[tuple[str, str]] = ()) -> None:
        self._keys = [k.encode() for k in api_keys if k]
        self._logins = [f"{user}:{password}".encode() for user, password in users]

    @property
    def open(self) -> bool:
        return not self._keys and not self._logins

    def allows(self, authorization: str | None) -> bool:
        """Does this Authorization header value grant access?"""
        if self.open:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token, validate=True)
            except (binascii.Error, ValueError):
                return False
            return _any_equal(decoded, self._logins)
        if scheme.lower() != "bearer" or not token:
            return False
        return _any_equal(token.encode(), self._keys + self._logins)


def _any_equal(value: bytes, candidates: list[bytes]) -> bool:
    # compare with every candidate (no early exit): the timing says nothing about which matched
    return sum(secrets.compare_digest(value, c) for c in candidates) > 0


REFUSAL = "Missing or invalid API key (use an --api-key, or user:password when the app signs users in)."


def guard(app: ASGIApp, access: ApiAccess) -> ASGIApp:
    """An ASGI app that answers 401 unless `access` allows the request, else runs `app`."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or access.open:
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if access.allows(headers.get("authorization")):
            await app(scope, receive, send)
            return
        body = json.dumps({"error": {"message": REFUSAL, "type": "authentication_error", "code": "invalid_api_key"}})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="api"')],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    return guarded


def guard_mounts(app: Any, prefix: str, access: ApiAccess) -> int:
    """Wrap every mounted sub-application under `prefix` (e.g. Gradio's MCP server) with `guard`.
    Works on a running app (routes are looked up per request). Returns how many were wrapped."""
    from starlette.routing import Mount

    wrapped = 0
    for route in app.router.routes:
        if isinstance(route, Mount) and route.path.rstrip("/").startswith(prefix.rstrip("/")):
            route.app = guard(route.app, access)
            wrapped += 1
    return wrapped
