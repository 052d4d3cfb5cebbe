"""PNG chunks, read and written by hand: character cards hide their JSON in text chunks.

Parsing is strict (signature, chunk lengths, CRCs, IEND) so a damaged file is refused with a
message saying where it is broken, instead of yielding half a card. Writing keeps the image bytes
exactly as they were and only swaps text chunks, so a card's picture survives export untouched.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from gradio_app.personalities.importers.errors import ImportRejected

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_CHUNK_BYTES = 20_000_000


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes
    offset: int


def is_png(data: bytes) -> bool:
    return data.startswith(SIGNATURE)


def read_chunks(data: bytes, source: str = "PNG") -> list[Chunk]:
    """Every chunk up to and including IEND, CRC-checked."""
    if not is_png(data):
        raise ImportRejected(f"{source}: not a PNG file (bad signature)")
    chunks: list[Chunk] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ImportRejected(f"{source}: truncated PNG (no IEND chunk; the file ends at byte {len(data)})")
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if not ctype.isalpha():
            raise ImportRejected(f"{source}: broken PNG chunk at byte {pos} (invalid chunk type {ctype!r})")
        end = pos + 12 + length
        if end > len(data):
            raise ImportRejected(
                f"{source}: broken PNG chunk {ctype.decode('latin-1')} at byte {pos}: it claims {length} bytes, "
                "past the end of the file"
            )
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise ImportRejected(f"{source}: broken PNG chunk {ctype.decode('latin-1')} at byte {pos} (bad CRC)")
        chunks.append(Chunk(ctype, body, pos))
        pos = end
        if ctype == b"IEND":
            return chunks


def text_chunks(chunks: list[Chunk], source: str = "PNG") -> dict[str, str]:
    """keyword -> text of the tEXt, zTXt and iTXt chunks (the first one wins for a keyword)."""
    found: dict[str, str] = {}
    for chunk in chunks:
        if chunk.type not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        if len(chunk.data) > MAX_TEXT_CHUNK_BYTES:
            raise ImportRejected(f"{source}: text chunk at byte {chunk.offset} is larger than {MAX_TEXT_CHUNK_BYTES}")
        keyword, sep, rest = chunk.data.partition(b"\0")
        if not sep or not keyword:
            raise ImportRejected(f"{source}: broken {chunk.type.decode()} chunk at byte {chunk.offset} (no keyword)")
        key = keyword.decode("latin-1")
        try:
            if chunk.type == b"tEXt":
                text = rest.decode("latin-1")
            elif chunk.type == b"zTXt":
                text = _inflate(rest[1:]).decode("latin-1")
            else:
                flag, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, payload = rest.partition(b"\0")
                text = (_inflate(payload) if flag else payload).decode("utf-8")
        except (IndexError, UnicodeDecodeError, zlib.error) as e:
            raise ImportRejected(
                f"{source}: broken {chunk.type.decode()} chunk '{key}' at byte {chunk.offset} ({e})"
            ) from e
        found.setdefault(key, text)
    return found


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_CHUNK_BYTES)
    if inflater.unconsumed_tail:
        raise zlib.error(f"expands past {MAX_TEXT_CHUNK_BYTES} bytes")
    return out


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def with_text_chunks(data: bytes, texts: dict[str, str], drop: tuple[str, ...] = ()) -> bytes:
    """The same PNG with the text chunks named in `texts` or `drop` removed, and `texts` written
    as tEXt chunks (Latin-1: card payloads are base64) just before IEND."""
    chunks = read_chunks(data)
    removed = {k.encode("latin-1") for k in (*texts, *drop)}
    out = [SIGNATURE]
    for chunk in chunks:
        if chunk.type in (b"tEXt", b"zTXt", b"iTXt") and chunk.data.partition(b"\0")[0] in removed:
            continue
        if chunk.type == b"IEND":
            out.extend(_chunk(b"tEXt", k.encode("latin-1") + b"\0" + v.encode("latin-1")) for k, v in texts.items())
        out.append(_chunk(chunk.type, chunk.data))
    return b"".join(out)
