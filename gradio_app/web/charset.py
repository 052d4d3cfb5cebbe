"""Bytes of a fetched page -> text, the way a browser decides the encoding.

Order (after the WHATWG encoding sniffing rules, simplified): a byte-order mark wins; then the
charset of the Content-Type header; then a <meta charset> / http-equiv declaration in the first
bytes; then UTF-8 if the bytes are valid UTF-8; then windows-1252, the web's legacy default. A
label Python does not know (or one browsers refuse, like UTF-7) is skipped, not fatal; a declared
encoding that the bytes do not match decodes with replacement characters rather than failing.
"""

from __future__ import annotations

import codecs
import re

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_META = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_META_SCAN_BYTES = 4096
# Labels that browsers map to windows-1252 (a superset that never fails on these bytes), and
# encodings they refuse outright (UTF-7 can smuggle markup past filters).
_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819", "ibm819"}
_REFUSED = {"utf-7", "utf7", "unicode-1-1-utf-7", "x-user-defined"}


def normalize_label(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown, refused or not text."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _REFUSED:
        return None
    if label in _AS_CP1252:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib... are not charsets
        return None
    return info.name


def header_charset(content_type: str | None) -> str | None:
    """The raw charset parameter of a Content-Type header value."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def meta_charset(body: bytes) -> str | None:
    match = _META.search(body[:_META_SCAN_BYTES])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, the encoding used)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace"), name
    for label in (header_charset(content_type), meta_charset(body)):
        name = normalize_label(label)
        if name:
            return body.decode(name, errors="replace"), name
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(body) - 3 and e.reason == "unexpected end of data":
            # A page cut at the size cap can end inside a multi-byte character.
            return body[: e.start].decode("utf-8"), "utf-8"
    return body.decode("cp1252", errors="replace"), "cp1252"
