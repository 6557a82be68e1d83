"""Corrections from the popup, end to end: a click in headless Chromium -> POST /feedback on the real API under
gunicorn -> a row in its (temp SQLite) database; and every way a correction can be unavailable or fail, shown in
words next to the control while the rest of the results keep working.

Expected values come from the database, the extension's storage and the real API's own /analyze answer for the same
comments (the least-sure rule is re-implemented here from its definition: confidence < 0.55, outside the top 25,
the 5 least sure first).
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
VALID = "yt-test-key-valid"
VIDEO = "Xk7pQ2mN9aB"
DONE_TIMEOUT = 90_000
LABEL_OF = {"-1": "negative", "0": "neutral", "1": "positive"}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def open_results(page, extension_id, settings, api, max_comments=100, video=VIDEO):
    settings.set(apiKey=VALID, apiBase=api, maxComments=max_comments)
    page.goto(f"chrome-extension://{extension_id}/popup.html?videoId={video}")
    expect(page.locator("body")).to_have_attribute("data-state", "done", timeout=DONE_TIMEOUT)


def stored_client_id(service_worker) -> str | None:
    return service_worker.evaluate("async () => (await chrome.storage.local.get('clientId')).clientId ?? null")


def test_a_correction_reaches_the_database_and_can_be_changed(
    page, extension_id, settings, sentiment_api, api_database, service_worker, youtube, artifacts, capsys
):
    open_results(page, extension_id, settings, sentiment_api)
    assert stored_client_id(service_worker) is None, "the id is made at the first correction, not before"

    # The first comment of the top list that can be corrected (scored, with a prediction id).
    item = page.locator("#top-comments > li").filter(has=page.locator(".feedback[data-prediction-id]")).first
    group = item.locator(".feedback")
    prediction_id = group.get_attribute("data-prediction-id")
    assert UUID.match(prediction_id), prediction_id
    predicted = item.locator(".badge").inner_text()
    wrong_by = {"positive": "-1", "neutral": "1", "negative": "0"}  # a label that differs from the prediction
    first = wrong_by[predicted]

    group.locator(f'button[data-label="{first}"]').click()
    expect(group.locator(".fb-status")).to_have_text(f"Recorded: {LABEL_OF[first]}. Thank you!")
    expect(group).to_have_attribute("data-state", "recorded")
    expect(group).to_have_attribute("data-feedback-status", "created")
    expect(group.locator(f'button[data-label="{first}"]')).to_have_attribute("aria-pressed", "true")
    expect(group.locator('button[aria-pressed="true"]')).to_have_count(1)
    page.wait_for_timeout(100)
    group.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "popup-feedback.png"))

    client_id = stored_client_id(service_worker)
    assert client_id and UUID.match(client_id), f"a random UUID kept in chrome.storage.local, got {client_id!r}"
    rows = api_database.rows("SELECT prediction_id, label, client_id FROM feedback WHERE prediction_id = ?",
                             (prediction_id,))
    assert rows == [{"prediction_id": prediction_id, "label": int(first), "client_id": client_id}]
    # The prediction it corrects was logged with the video it came from (the popup sends video_id).
    logged = api_database.rows("SELECT video_id, sentiment FROM predictions WHERE id = ?", (prediction_id,))
    assert logged == [{"video_id": VIDEO, "sentiment": {"positive": 1, "neutral": 0, "negative": -1}[predicted]}]

    # Changed mind: the same row now holds the new label; a repeat changes nothing.
    second = next(x for x in ("1", "0", "-1") if x != first)
    group.locator(f'button[data-label="{second}"]').click()
    expect(group.locator(".fb-status")).to_have_text(f"Changed to {LABEL_OF[second]}. Thank you!")
    expect(group.locator(f'button[data-label="{second}"]')).to_have_attribute("aria-pressed", "true")
    expect(group.locator(f'button[data-label="{first}"]')).to_have_attribute("aria-pressed", "false")
    group.locator(f'button[data-label="{second}"]').click()
    expect(group.locator(".fb-status")).to_have_text(f"Already recorded: {LABEL_OF[second]}.")
    rows = api_database.rows("SELECT label, client_id FROM feedback WHERE prediction_id = ?", (prediction_id,))
    assert rows == [{"label": int(second), "client_id": client_id}]

    # The options page shows the anonymous id it sends.
    page.goto(f"chrome-extension://{extension_id}/options.html")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#clientId")).to_have_text(client_id)
    expect(page.locator("#client-id-help")).to_contain_text("not linked to you")
    with capsys.disabled():
        print(f"\n[extension] popup with a recorded correction: {artifacts / 'popup-feedback.png'}")


def test_least_sure_comments_are_marked_and_listed(page, extension_id, settings, sentiment_api, youtube):
    open_results(page, extension_id, settings, sentiment_api, max_comments=200)
    comments = youtube.thread_comments(200)
    answer = requests.post(f"{sentiment_api}/analyze", json={"comments": comments}, timeout=120).json()
    predictions = answer["predictions"]

    def unsure(i):
        return predictions[i].get("language_supported", True) and predictions[i]["confidence"] < 0.55

    order = sorted(range(len(comments)), key=lambda i: (-comments[i]["likes"], i))
    top, rest = order[:25], set(order[25:])
    expected_marks = [i for i in top if unsure(i)]
    expected_list = sorted((i for i in rest if unsure(i)), key=lambda i: (predictions[i]["confidence"], i))[:5]
    assert expected_list, "the small model is unsure of some of these 200 comments (else this test proves little)"

    items = page.locator("#top-comments > li")
    marks = page.locator('#top-comments > li[data-least-sure="true"]')
    expect(marks).to_have_count(len(expected_marks))
    assert marks.locator(".text").all_inner_texts() == [comments[i]["text"] for i in expected_marks]
    for k in range(len(expected_marks)):
        expect(marks.nth(k).locator(".unsure")).to_have_text(re.compile(r"least sure \(\d+%\): please label"))
    assert items.locator(".unsure").count() == len(expected_marks)

    listed = page.locator("#least-sure > li")
    expect(page.locator("#least-sure-section")).to_be_visible()
    expect(listed).to_have_count(len(expected_list))
    assert listed.locator(".text").all_inner_texts() == [comments[i]["text"] for i in expected_list]
    shown = [int(t.split("(")[1].split("%")[0]) for t in listed.locator(".unsure").all_inner_texts()]
    assert len(shown) == len(expected_list)
    for pct, i in zip(shown, expected_list, strict=True):
        assert abs(pct - predictions[i]["confidence"] * 100) <= 0.5 + 1e-9, (pct, predictions[i]["confidence"])
    # Each invites a label with a working control.
    expect(listed.locator(".feedback[data-prediction-id] button:enabled")).to_have_count(3 * len(expected_list))


def _json_route(status: int, body: dict, headers: dict | None = None):
    def handle(route):
        origin = route.request.headers.get("origin")
        extra = {"access-control-allow-origin": origin} if origin else {}
        route.fulfill(status=status, headers={"content-type": "application/json", **extra, **(headers or {})},
                      body=json.dumps(body))
    return handle


def test_feedback_failures_are_explained_and_the_results_stay(
    page, extension_id, settings, sentiment_api, extension_context
):
    open_results(page, extension_id, settings, sentiment_api, max_comments=50)
    controls = page.locator("#top-comments .feedback[data-prediction-id]")
    first, second = controls.nth(0), controls.nth(1)
    url = f"{sentiment_api}/feedback"
    try:
        # The API fails on this one correction: the control says so and can be used again.
        extension_context.route(url, _json_route(500, {"error": "internal server error",
                                                       "detail": "the server failed on this request"}))
        first.locator('button[data-label="0"]').click()
        expect(first).to_have_attribute("data-state", "failed")
        expect(first.locator(".fb-status")).to_have_text(
            "Not recorded: the API returned an error (HTTP 500): internal server error: the server failed on this "
            "request. Try again.")
        expect(first.locator('button[aria-pressed="true"]')).to_have_count(0)
        expect(first.locator("button:enabled")).to_have_count(3)

        # Rate limited: the wait from Retry-After is passed on.
        extension_context.unroute(url)
        extension_context.route(url, _json_route(429, {"error": "too many requests", "detail": "30 per 1 minute"},
                                                 {"retry-after": "17"}))
        second.locator('button[data-label="1"]').click()
        expect(second.locator(".fb-status")).to_have_text(
            "Not recorded: too many corrections at once. Try again in 17 s.")

        # An API without /feedback (its JSON 404 for an unknown route): every control says why it is off.
        extension_context.unroute(url)
        extension_context.route(url, _json_route(404, {
            "error": "not found", "detail": "no endpoint at /feedback; GET /openapi.json lists the API's routes"}))
        first.locator('button[data-label="-1"]').click()
        reason = "Corrections unavailable: this version of the sentiment API does not accept them (no /feedback)."
        expect(page.locator('#top-comments .feedback[data-state="unavailable"] .fb-status').first).to_have_text(reason)
        expect(controls.locator("button:enabled")).to_have_count(0)
        for k in range(controls.count()):
            expect(controls.nth(k).locator(".fb-status")).to_have_text(reason)
    finally:
        extension_context.unroute(url)
    # The results view is untouched.
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#top-comments > li")).to_have_count(25)
    expect(page.locator("#error")).to_be_hidden()


def test_an_api_without_prediction_ids_still_shows_results(
    page, extension_id, settings, sentiment_api, extension_context
):
    url = f"{sentiment_api}/analyze"

    def strip_ids(route):
        response = route.fetch()
        body = response.json()
        for p in body["predictions"]:
            for key in ("prediction_id", "language", "language_supported"):
                p.pop(key, None)
        route.fulfill(response=response, body=json.dumps(body))

    extension_context.route(url, strip_ids)
    try:
        open_results(page, extension_id, settings, sentiment_api, max_comments=40)
    finally:
        extension_context.unroute(url)
    groups = page.locator("#top-comments .feedback")
    expect(groups).to_have_count(25)
    expect(groups.locator("button:enabled")).to_have_count(0)
    expect(page.locator('#top-comments .feedback[data-state="unavailable"]')).to_have_count(25)
    expect(groups.first.locator(".fb-status")).to_have_text(
        "Corrections unavailable: this version of the sentiment API sends no prediction ids.")
    expect(page.locator("#m-total")).to_have_text("40")
