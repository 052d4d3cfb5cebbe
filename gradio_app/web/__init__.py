"""Web search for the GPT 4 Internet personality: search, fetch, read, rank, answer with sources.

Modules: search (SearchBackend, DuckDuckGo via ddgs), addresses (SSRF rule), fetch (PageFetcher),
charset (bytes -> text), extract (trafilatura), rank (passages, BM25), prompts, citations
(honest [n] markers, Sources list), settings (WebSettings), workflow (answer_with_web), report
(events for the app), model (generate over the GenerationService).

Nothing here imports ddgs or trafilatura at import time: they load on the first search.
"""
