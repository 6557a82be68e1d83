"""The extension in headless Chromium: fixed id, options page, and a clear message for every failure."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
# Fixed by the manifest's key; the API's default CORS origin.
EXTENSION_ID = "hjpcimaolalbjpklelngebhdenmmbfmd"
VALID = "yt-test-key-valid"
TIMEOUT = 20_000


def open_popup(page, extension_id, video_id=None):
    query = f"?videoId={video_id}" if video_id is not None else ""
    page.goto(f"chrome-extension://{extension_id}/popup.html{query}")
    expect(page.locator("body")).not_to_have_attribute("data-state", "loading", timeout=TIMEOUT)


def test_service_worker_url_has_the_fixed_id(service_worker, extension_id):
    assert service_worker.url == f"chrome-extension://{EXTENSION_ID}/service-worker.js"
    assert extension_id == EXTENSION_ID


def test_install_opens_the_options_page(install_options_url, extension_id):
    assert install_options_url == f"chrome-extension://{extension_id}/options.html"


def test_options_page_validates_and_stores_settings(page, extension_id, settings):
    page.goto(f"chrome-extension://{extension_id}/options.html")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    # Defaults are shown before anything is saved.
    expect(page.locator("#apiBase")).to_have_value("http://127.0.0.1:5000")
    expect(page.locator("#maxComments")).to_have_value("500")
    expect(page.locator("#order")).to_have_value("relevance")
    expect(page.locator("#includeReplies")).not_to_be_checked()

    page.fill("#apiBase", "localhost:5000")
    page.fill("#maxComments", "5000")
    page.click("#save")
    expect(page.locator("#save-status")).to_have_text(re.compile("Not saved"))
    expect(page.locator('.field-error[data-for="apiKey"]')).to_have_text(re.compile("Enter your YouTube"))
    expect(page.locator('.field-error[data-for="apiBase"]')).to_have_text(re.compile("http://"))
    expect(page.locator('.field-error[data-for="maxComments"]')).to_have_text(re.compile("1 to 1000"))
    assert settings.get() is None, "nothing is stored while the form has errors"

    page.fill("#apiKey", f"  {VALID} ")
    page.fill("#apiBase", "http://localhost:8080/")
    page.fill("#maxComments", "250")
    page.select_option("#order", "time")
    page.check("#includeReplies")
    page.click("#save")
    expect(page.locator("#save-status")).to_have_text("Saved.")
    expect(page.locator(".field-error:visible")).to_have_count(0)
    assert settings.get() == {
        "apiKey": VALID,
        "apiBase": "http://localhost:8080",
        "maxComments": 250,
        "order": "time",
        "includeReplies": True,
    }

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#apiKey")).to_have_value(VALID)
    expect(page.locator("#order")).to_have_value("time")
    expect(page.locator("#includeReplies")).to_be_checked()


def test_no_key_links_to_the_options(page, extension_id, settings, extension_context):
    open_popup(page, extension_id, "Xk7pQ2mN9aB")
    expect(page.locator("body")).to_have_attribute("data-error-code", "no_key")
    expect(page.locator("#error-message")).to_have_text(re.compile("YouTube Data API key in the options"))
    button = page.locator("#error-options")
    expect(button).to_be_visible()
    # Chrome would focus an options tab that is already open instead of opening one.
    for other in extension_context.pages:
        if other.url.endswith("/options.html"):
            other.close()
    with extension_context.expect_page() as opened:
        button.click()
    options = opened.value
    expect(options).to_have_url(f"chrome-extension://{extension_id}/options.html")
    options.close()


@pytest.mark.parametrize(
    "video_id", [None, "not-an-id", ""], ids=["active-tab-is-not-youtube", "bad-id", "empty-id"]
)
def test_not_a_video_page(page, extension_id, settings, video_id):
    settings.set(apiKey=VALID)
    open_popup(page, extension_id, video_id)
    expect(page.locator("body")).to_have_attribute("data-error-code", "not_video_page")
    expect(page.locator("#error-message")).to_have_text(re.compile("not a YouTube video page"))
    expect(page.locator("#error-options")).to_be_hidden()


YOUTUBE_ERRORS = [
    # (key, video id, error code, message, options link shown)
    ("wrong-key", "Xk7pQ2mN9aB", "key_invalid", "API key was rejected as invalid", True),
    ("yt-test-key-quota-spent", "Xk7pQ2mN9aB", "quota_exceeded", "quota for this key is used up", True),
    (VALID, "noComments1", "comments_disabled", "Comments are turned off", False),
    (VALID, "gone1234567", "video_not_found", "could not find this video", False),
    (VALID, "quietVideo1", "no_comments", "no comments yet", False),
]


@pytest.mark.parametrize(
    ("key", "video_id", "code", "message", "link"), YOUTUBE_ERRORS, ids=[e[2] for e in YOUTUBE_ERRORS]
)
def test_youtube_errors_explain_themselves(
    page, extension_id, settings, youtube, key, video_id, code, message, link
):
    settings.set(apiKey=key)
    open_popup(page, extension_id, video_id)
    expect(page.locator("body")).to_have_attribute("data-error-code", code)
    expect(page.locator("#error-message")).to_contain_text(message)
    options_link = expect(page.locator("#error-options"))
    options_link.to_be_visible() if link else options_link.to_be_hidden()
    expect(page.locator("#results")).to_be_hidden()
    assert youtube.requests, "the popup asked the (fake) YouTube API"
    assert youtube.requests[0]["key"] == key
    assert youtube.requests[0]["videoId"] == video_id


def test_network_down(page, extension_id, settings, youtube):
    settings.set(apiKey=VALID)
    youtube.offline = True
    open_popup(page, extension_id, "Xk7pQ2mN9aB")
    expect(page.locator("body")).to_have_attribute("data-error-code", "network_down")
    expect(page.locator("#error-message")).to_contain_text("Check your internet connection")


def test_sentiment_api_down(page, extension_id, settings, closed_port_url):
    closed = closed_port_url
    settings.set(apiKey=VALID, apiBase=closed, maxComments=50)
    open_popup(page, extension_id, "Xk7pQ2mN9aB")
    expect(page.locator("body")).to_have_attribute("data-error-code", "api_unreachable")
    expect(page.locator("#error-message")).to_contain_text(f"Cannot reach the sentiment API at {closed}")
    expect(page.locator("#error-options")).to_be_visible()


def test_sentiment_api_error_is_shown(page, extension_id, settings, sentiment_api):
    # A wrong base path: the real API answers its JSON 404 and the popup passes its words on.
    settings.set(apiKey=VALID, apiBase=f"{sentiment_api}/v9", maxComments=50)
    open_popup(page, extension_id, "Xk7pQ2mN9aB")
    expect(page.locator("body")).to_have_attribute("data-error-code", "api_error")
    expect(page.locator("#error-message")).to_contain_text(f"{sentiment_api}/v9 returned an error (HTTP 404)")
