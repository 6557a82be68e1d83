"""Why a comment got its label, in headless Chromium: the popup asks /analyze (the real API under gunicorn) with
"explain": true, and hovering or focusing a comment's label shows the API's why-terms in words and marks them in the
comment's text; terms are comment text, so markup in a term is shown as text and never runs.

Expected texts are built here from the API's own answer (captured on its way to the popup) and the wording's
definition, never read back from the page.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
VALID = "yt-test-key-valid"
VIDEO = "Xk7pQ2mN9aB"
DONE_TIMEOUT = 90_000
XSS_COMMENT = "<script>alert('xss')</script> did this break anything? 😅"  # a fixture comment (make_fixtures.py)
PAYLOADS = ["<script>alert('xss')</script>", "<img src=x onerror=alert(1)>", '"><svg onload=alert(2)>']
FEATURES = {"lexicon": "its words’ sentiment-lexicon scores", "length": "its length", "words": "its number of words",
            "emoji": "its emoji", "exclamations": "its exclamation marks", "questions": "its question marks"}
HIGHLIGHT = "rgb(255, 243, 176)"


def to_fixed(x: float, digits: int) -> str:
    """JavaScript's ``x.toFixed(digits)``: the exact binary value rounded half up (Python's format rounds half even)."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def expected_why(prediction: dict) -> str:
    named = [FEATURES.get(t["term"], f"“{t['term']}”") + f" (+{to_fixed(t['weight'], 2)})" for t in prediction["why"]]
    said = f"Pushed toward {prediction['label']} by {', '.join(named)}." if named else \
        f"Nothing in particular pushed it toward {prediction['label']}."
    return f"{said} (confidence {to_fixed(prediction['confidence'] * 100, 0)}%)"


def open_results(page, extension_id, settings, api, context, rewrite=None) -> tuple[dict, dict]:
    """The popup's results for 100 comments; returns what it sent to /analyze and what the API answered (after
    ``rewrite(answer)``, when given, which is what the popup then received)."""
    url = f"{api}/analyze"
    seen: dict = {}

    def capture(route):
        seen["request"] = json.loads(route.request.post_data)
        response = route.fetch()
        seen["answer"] = response.json()
        if rewrite is not None:
            rewrite(seen["answer"])
        route.fulfill(response=response, body=json.dumps(seen["answer"]))

    context.route(url, capture)
    try:
        settings.set(apiKey=VALID, apiBase=api, maxComments=100)
        page.goto(f"chrome-extension://{extension_id}/popup.html?videoId={VIDEO}")
        expect(page.locator("body")).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT)
    finally:
        context.unroute(url)
    return seen["request"], seen["answer"]


def item_of(page, text: str):
    return page.locator("#top-comments > li").filter(has=page.locator(".text", has_text=text)).first


def test_hovering_a_label_shows_the_terms_that_pushed_it(page, extension_id, settings, sentiment_api,
                                                         extension_context, artifacts, capsys):
    sent, answer = open_results(page, extension_id, settings, sentiment_api, extension_context)
    assert sent["explain"] is True
    predictions = answer["predictions"]
    shown = page.locator("#top-comments > li .text").all_inner_texts()
    by_text = {c["text"]: p for c, p in zip(sent["comments"], predictions, strict=True)}
    explained = [t for t in shown if by_text[t]["language_supported"] and by_text[t]["why"]]
    assert len(explained) >= 5
    for text in explained[:5]:
        prediction, item = by_text[text], item_of(page, text)
        why = item.locator(".label .why")
        expect(why).to_be_hidden()
        item.locator(".label").hover()
        expect(why).to_be_visible()
        expect(why).to_have_text(expected_why(prediction))
        marks = item.locator("mark.why-term")
        words = {t["term"] for t in prediction["why"] if t["term"] not in FEATURES}
        assert {m.lower() for m in marks.all_inner_texts()} <= words
        for k in range(marks.count()):
            assert marks.nth(k).evaluate("m => getComputedStyle(m).backgroundColor") == HIGHLIGHT
        page.mouse.move(0, 0)
        expect(why).to_be_hidden()
    # a term of the comment's own words is marked in its text (the weights favour them on the first comments)
    assert page.locator("#top-comments mark.why-term").count() > 0
    assert page.locator("#top-comments mark.why-term").first.evaluate(
        "m => getComputedStyle(m).backgroundColor") == "rgba(0, 0, 0, 0)"  # marked only while the label is hovered
    # keyboard users get the same: the label takes focus and then shows its reason
    first = item_of(page, explained[0])
    first.locator(".label").focus()
    expect(first.locator(".label .why")).to_be_visible()
    assert first.locator(".label").get_attribute("aria-describedby") == first.locator(".why").get_attribute("id")
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "popup-why.png"))
    with capsys.disabled():
        print(f"\n[extension] a label's why on focus: {artifacts / 'popup-why.png'}")


def test_markup_in_a_term_is_shown_as_text_and_never_runs(page, extension_id, settings, sentiment_api,
                                                          extension_context):
    def plant(answer):
        (prediction,) = [p for p in answer["predictions"] if p["comment"] == XSS_COMMENT]
        prediction["language_supported"] = True
        prediction["why"] = [{"term": term, "weight": 3.0 - i} for i, term in enumerate(PAYLOADS)]

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _, answer = open_results(page, extension_id, settings, sentiment_api, extension_context, rewrite=plant)
    (prediction,) = [p for p in answer["predictions"] if p["comment"] == XSS_COMMENT]
    item = item_of(page, "did this break anything?")
    item.locator(".label").hover()
    why = item.locator(".label .why")
    expect(why).to_be_visible()
    expect(why).to_have_text(expected_why(prediction))
    assert "“<img src=x onerror=alert(1)>” (+2.00)" in why.inner_text()
    assert item.locator("mark.why-term").all_inner_texts() == [PAYLOADS[0]]  # the one that is in the text
    assert item.locator(".text").inner_text() == XSS_COMMENT
    page.wait_for_timeout(500)  # an onerror on a missing image fires within it
    expect(page.locator("#top-comments script, #top-comments img, #top-comments svg")).to_have_count(0)
    assert dialogs == []
