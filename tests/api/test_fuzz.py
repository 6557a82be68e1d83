"""Schemathesis fuzzes every operation of /openapi.json on an app with the real small model: no 5xx, and every
response (to valid or invalid input) has a documented status, content type and body schema.

The app under fuzz has small limits (20 comments of 300 characters, 64 KB bodies): the limit logic is the
same as with the defaults, and the inputs generated around the limits stay small, keeping this test ~30 s.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ytsentiment.api import create_app
from ytsentiment.api.blueprints import BLUEPRINTS
from ytsentiment.api.openapi import build_openapi
from ytsentiment.api.schemas import Limits

MAX_EXAMPLES = 20  # per operation
LIMITS = {"max_comments": 20, "max_comment_chars": 300, "max_content_length": 64 * 1024}
# Built without a model (cheap at collection); test_fuzzed_document_is_the_served_one ties it to the app.
DOCUMENT = build_openapi(Limits(**LIMITS), BLUEPRINTS)
CONFIG = schemathesis.Config.from_dict({
    # Over-limit input is a 413 by contract, wrong content type a 415: both are the right rejection.
    "checks": {"negative_data_rejection": {"expected-statuses": ["400", "413", "415"]}},
})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


@pytest.fixture(scope="module")
def fuzz_app(trained_model_dir):
    return create_app({"model_uri": str(trained_model_dir), "load_in_background": False, **LIMITS})


def test_fuzzed_document_is_the_served_one(fuzz_app):
    assert fuzz_app.test_client().get("/openapi.json").get_json() == DOCUMENT


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case, fuzz_app):
    case.call_and_validate(app=fuzz_app)
