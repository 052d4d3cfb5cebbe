"""Sign-in users from `--auth user:password` flags and `--auth-file FILE`, and the exposure warning.

The auth file holds one `user:password` per line; blank lines and lines starting with `#` are
ignored; the password is everything after the first colon (it may contain colons). Leading and
trailing spaces around the user name are dropped; the password is taken as written.
"""

from __future__ import annotations

from pathlib import Path

PUBLIC_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - we only compare against it


class AuthError(ValueError):
    """A bad --auth value or auth file line (the message names it)."""


def parse_credential(text: str, where: str = "--auth") -> tuple[str, str]:
    user, sep, password = text.partition(":")
    user = user.strip()
    if not sep or not user or not password:
        raise AuthError(f"{where}: expected user:password, got {text.strip()[:40]!r}")
    if any(c.isspace() for c in user):
        raise AuthError(f"{where}: a user name cannot contain spaces ({user!r})")
    return user, password


def read_auth_file(path: Path) -> list[tuple[str, str]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise AuthError(f"--auth-file {path}: cannot be read ({e})") from e
    users = parse_auth_text("\n".join(lines), str(path))
    if not users:
        raise AuthError(f"--auth-file {path}: no user:password line in it")
    return users


AUTH_ENV = "PWEBUI_AUTH"


def parse_auth_text(text: str, where: str = AUTH_ENV) -> list[tuple[str, str]]:
    """Users from the text of an auth file (e.g. a Hugging Face Space secret): one
    `user:password` per line, blank and `#` lines ignored."""
    users = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        users.append(parse_credential(line.rstrip("\r\n"), f"{where}, line {number}"))
    return users


def credentials(flags: list[str], auth_file: Path | None, env_text: str | None = None) -> list[tuple[str, str]]:
    """All users (flags, the auth file, and the PWEBUI_AUTH variable, where a Space keeps them as
    a secret); a name given twice is an error (which password would count?)."""
    users = [parse_credential(flag) for flag in flags]
    if auth_file is not None:
        users += read_auth_file(auth_file)
    if env_text and env_text.strip():
        users += parse_auth_text(env_text)
    seen: set[str] = set()
    for user, _ in users:
        if user in seen:
            raise AuthError(f"the user {user!r} is given more than once")
        seen.add(user)
    return users


def exposure_warning(host: str, share: bool, has_auth: bool, single_user: bool) -> str | None:
    """What to tell someone who opens the app to others without sign-in."""
    if has_auth:
        return None
    if not share and host not in PUBLIC_HOSTS:
        return None
    where = "a public share link" if share else f"all network interfaces ({host or 'every address'})"
    warning = (
        f"WARNING: the app is reachable through {where} without sign-in: anyone who can reach it can "
        "chat and use the model. "
    )
    if single_user:
        warning += "With --single-user they also see every discussion. "
    else:
        warning += "Each browser only sees its own discussions, but nothing proves who is who. "
    return warning + "Add --auth user:password (or --auth-file FILE) to require a sign-in."
