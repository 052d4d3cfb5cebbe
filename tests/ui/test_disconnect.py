"""A browser that goes away mid-answer must release the model for everyone else."""

import time

import pytest
from gradio_client import Client

pytestmark = [pytest.mark.ui, pytest.mark.slow]

# prompt_format, override, temperature, top_k, top_p, repeat_penalty, repeat_last_n, n_predict, seed
LONG = ("auto", True, 0.8, 40, 0.9, 1.1, 64, 3000, 1)
SHORT = ("auto", True, 0.8, 40, 0.9, 1.1, 64, 5, 1)


def test_cancelled_job_releases_the_model(launched_app):
    gone = Client(launched_app.url, verbose=False)
    gone.predict(*LONG, api_name="/apply_settings")
    job = gone.submit("Write a very long story about dragons, in many chapters.", api_name="/send")
    for seen, _ in enumerate(job):
        if seen == 3:
            break
    job.cancel()  # what Gradio does when the tab closes
    other = Client(launched_app.url, verbose=False)
    other.predict(*SHORT, api_name="/apply_settings")
    started = time.monotonic()
    chat, _ = other.predict("Hi", api_name="/send")
    waited = time.monotonic() - started
    assert chat[-1]["role"] == "assistant"
    # 3000 tokens at ~100 tokens/s would hold the model for ~30 s if it were not released
    assert waited < 15, f"the abandoned generation held the model for {waited:.1f}s"
