"""Who owns a discussion, and who may see it.

Three modes, chosen at start (app.py flags):
- "users" (`--auth`): the owner is the logged-in user name; each user sees only their own.
- "browsers" (no auth): each browser gets a random id kept in its localStorage (gr.BrowserState);
  it sees only its own discussions. This separates people, it does not authenticate them: the id
  is as secret as a session cookie.
- "single" (`--single-user`): one person's machine; every discussion is visible to every tab.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["users", "browsers", "single"]
LOCAL_OWNER = "local"
_BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")


log = logging.getLogger(__name__)


def new_browser_id() -> str:
    return secrets.token_hex(16)


def is_browser_id(value: object) -> bool:
    return isinstance(value, str) and _BROWSER_ID.match(value) is not None


def browser_id_or_new(value: object) -> str:
    """The id a browser keeps (gr.BrowserState), or a new one for a browser that has none yet."""
    return value if is_browser_id(value) else new_browser_id()  # type: ignore[return-value]


@dataclass(frozen=True)
class Ownership:
    mode: Mode = "browsers"

    def owner_for(self, username: str | None, browser_id: str | None = None, current: str | None = None) -> str | None:
        """The owner behind a request.

        A signed-in user is always who they say (Gradio checked the password). Otherwise a page
        load brings the browser's id; later events keep the session's `current` owner; and a
        client that never loaded the page (gradio_client) gets a fresh anonymous id of its own.
        None: nobody may store anything (auth is on but no user, which Gradio's login prevents).
        """
        if username:
            return f"user:{username}"
        if self.mode == "users":
            return None
        if self.mode == "single":
            return LOCAL_OWNER
        if is_browser_id(browser_id):
            return f"browser:{browser_id}"
        return current or f"browser:{new_browser_id()}"

    def scope(self, owner: str | None) -> str | None:
        """What a store query filters on: the owner, or None (everything) in single-user mode."""
        return None if self.mode == "single" else owner

    @property
    def describe(self) -> str:
        return {
            "users": "each signed-in user sees only their own discussions",
            "browsers": "each browser sees only its own discussions",
            "single": "single-user mode: every discussion is visible",
        }[self.mode]


def browser_state_secret(path: Path) -> str:
    """The key gr.BrowserState encrypts the browser id with, kept across restarts (a new key
    would make every browser's stored id unreadable, and its discussions unreachable)."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) >= 32:
            return secret
    except (OSError, UnicodeDecodeError):
        pass
    secret = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secret)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a read-only data folder: ids last for this run only (the page says so)
        log.error("cannot keep the browser-id key in %s (%s): browser ids last for this run", path, e.strerror or e)
    return secret
