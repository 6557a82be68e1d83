"""/openapi.json is valid OpenAPI 3.1, documents exactly the app's routes, and real responses match it."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def document(real_client):
    return real_client.get("/openapi.json").get_json()


def test_document_is_valid_openapi_31(document):
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_is_documented_and_every_documented_route_exists(real_app, document):
    served = {(rule.rule, method.lower()) for rule in real_app.url_map.iter_rules()
              for method in rule.methods - IGNORED_METHODS}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert served == documented


def validate_body(document: dict, path: str, method: str, status: int, body) -> None:
    content = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]
    schema = {**content["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)


TIMESTAMPED = [{"text": "I love it", "timestamp": "2024-05-01T12:30:00Z"},
               {"text": "meh", "timestamp": "2024-05-02"}]


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/predict", {"comments": ["I love it", "awful", "ok"]}, 200),
    ("post", "/predict_with_timestamps", {"comments": TIMESTAMPED}, 200),
    ("post", "/analyze", {"comments": [*TIMESTAMPED, {"text": "no time", "likes": 2, "author": "x"}]}, 200),
    ("post", "/predict", {"comments": ["I love it", "awful", "Esto es muy malo y no me gusta nada"],
                          "explain": True}, 200),
    ("post", "/predict_with_timestamps", {"comments": TIMESTAMPED, "explain": True}, 200),
    ("post", "/analyze", {"comments": TIMESTAMPED, "explain": True}, 200),
    ("post", "/predict", {"comments": []}, 400),
    ("post", "/analyze", {"comments": TIMESTAMPED, "explain": "yes"}, 400),
    ("post", "/predict", {"comments": ["x" * 10_001]}, 413),
    ("post", "/analyze", {"comments": "nope"}, 400),
    ("post", "/generate_chart", {"sentiment_counts": {"1": -1}}, 400),
    ("get", "/health", None, 200),
    ("get", "/ready", None, 200),
    ("get", "/model", None, 200),
])
def test_responses_match_the_document(real_client, document, method, path, body, status):
    response = real_client.open(path, method=method.upper(), json=body)
    assert response.status_code == status
    validate_body(document, path, method, status, response.get_json())


def test_415_matches_the_document(real_client, document):
    response = real_client.post("/predict", data="x", content_type="text/plain")
    assert response.status_code == 415
    validate_body(document, "/predict", "post", 415, response.get_json())


def test_not_ready_matches_the_document(document):
    from ytsentiment.api import create_app

    from .conftest import Blocker

    blocker = Blocker()
    client = create_app({"model_loader": blocker, "model_wait_seconds": 0}).test_client()
    try:
        response = client.get("/ready")
        assert response.status_code == 503
        validate_body(document, "/ready", "get", 503, response.get_json())
        response = client.post("/analyze", json={"comments": [{"text": "a"}]})
        assert response.status_code == 503
        validate_body(document, "/analyze", "post", 503, response.get_json())
    finally:
        blocker.release.set()


def test_png_and_metrics_content_types(real_client, document):
    response = real_client.post("/generate_chart", json={"sentiment_counts": {"1": 1, "0": 2, "-1": 3}})
    assert response.mimetype in document["paths"]["/generate_chart"]["post"]["responses"]["200"]["content"]
    response = real_client.get("/metrics")
    assert response.mimetype in document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
