"""Real trafilatura on the served pages: the article stays, the boilerplate goes."""

from gradio_app.web.extract import extract_main_text, read_result
from gradio_app.web.fetch import FetchedPage
from gradio_app.web.search import SearchResult
from tests.web.site import BAD_CHARSET_TEXT, BOILERPLATE_MARKERS, FROG


def test_the_article_is_extracted_without_menus_banners_comments_or_footer():
    text = extract_main_text(FROG, "http://127.0.0.1/articles/glass-frog.html")
    for fact in ("first described in 2019", "about 21 millimetres", "fewer than 5,000 adults"):
        assert fact in text
    for noise in (*BOILERPLATE_MARKERS, "Most read", "About us", "dataLayer"):
        assert noise not in text


def test_fetched_pages_are_read_and_the_snippet_stands_in_when_there_is_no_text(site, fetcher):
    urls = [site.url(p) for p in ("/articles/glass-frog.html", "/app.html", "/report.pdf", "/bad-charset.html")]
    pages = fetcher.fetch_all(urls)
    results = [SearchResult(f"title {i}", u, f"snippet {i}") for i, u in enumerate(urls)]
    frog, app, pdf, cafe = (read_result(r, p) for r, p in zip(results, pages, strict=True))
    assert frog.origin == "page" and "Vellan Highlands" in frog.text and frog.url == urls[0]
    assert app.origin == "snippet" and app.text == "snippet 1" and app.note == "no article text found on the page"
    assert pdf.origin == "snippet" and pdf.note == "page not read: not a web page (application/pdf)"
    assert cafe.origin == "page" and BAD_CHARSET_TEXT in cafe.text


def test_a_result_without_page_or_snippet_gives_nothing_to_read():
    assert read_result(SearchResult("t", "http://x.test/"), FetchedPage("http://x.test/", error="timed out")) is None
    unread = read_result(SearchResult("t", "http://x.test/", "only the snippet"), None)
    assert unread.origin == "snippet" and unread.note == "not fetched"


def test_reading_the_same_page_again_and_again_gives_the_same_text():
    """A page read by many users or turns must not turn into "boilerplate": trafilatura's own
    deduplication counts paragraphs across every extraction of the process."""
    first = extract_main_text(FROG, "http://example.org/frog")
    assert first
    for _ in range(5):
        assert extract_main_text(FROG, "http://example.org/frog") == first
