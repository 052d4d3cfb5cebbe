"""Bytes -> text the way browsers decide the encoding."""

import codecs

import pytest

from gradio_app.web.charset import decode_body, header_charset, meta_charset, normalize_label

CAFE = "Le café naïve, déjà vu"


def test_the_header_charset_wins_over_the_meta_tag():
    body = f'<meta charset="utf-8"><p>{CAFE}</p>'.encode("cp1252")
    text, encoding = decode_body(body, "text/html; charset=windows-1252")
    assert CAFE in text and encoding == "cp1252"


def test_the_meta_tag_is_used_without_a_header_charset():
    body = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">{CAFE}'
    text, encoding = decode_body(body.encode("iso-8859-15"), "text/html")
    assert CAFE in text and encoding == "iso8859-15"


def test_an_unknown_label_falls_back_to_utf8_then_windows_1252():
    assert decode_body(CAFE.encode("utf-8"), "text/html; charset=no-such-charset") == (CAFE, "utf-8")
    assert decode_body(CAFE.encode("cp1252"), "text/html; charset=no-such-charset") == (CAFE, "cp1252")


def test_a_byte_order_mark_wins_over_everything():
    text, encoding = decode_body(codecs.BOM_UTF16_LE + CAFE.encode("utf-16-le"), "text/html; charset=iso-8859-1")
    assert text == CAFE and encoding == "utf-16-le"
    assert decode_body(codecs.BOM_UTF8 + CAFE.encode("utf-8"))[0] == CAFE


def test_bytes_that_do_not_match_the_declared_charset_decode_with_replacement():
    text, encoding = decode_body(b"caf\xe9 \xff\xfe ok", "text/html; charset=utf-8")
    assert encoding == "utf-8" and text.startswith("caf\ufffd") and text.endswith("ok")


def test_a_page_cut_inside_a_multibyte_character_still_decodes_as_utf8():
    body = "déjà".encode()[:-1]  # the cap cut the last character in half
    assert decode_body(body) == ("déj", "utf-8")


@pytest.mark.parametrize("label", ["utf-7", "UTF7", "x-user-defined", "base64", "rot13", "zlib", "", None, "nope"])
def test_refused_and_non_text_labels_are_ignored(label):
    assert normalize_label(label) is None


@pytest.mark.parametrize(("label", "name"), [("latin1", "cp1252"), ("US-ASCII", "cp1252"), ("UTF-8", "utf-8")])
def test_labels_map_as_browsers_map_them(label, name):
    assert normalize_label(label) == name


def test_header_and_meta_parsing():
    assert header_charset('text/html; Charset="Shift_JIS"') == "Shift_JIS"
    assert header_charset("text/html") is None
    assert meta_charset(b"<head><meta charset='koi8-r'>") == "koi8-r"
