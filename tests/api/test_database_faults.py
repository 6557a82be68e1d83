"""Databases that cannot be used as configured get clear answers, never a 500."""

from __future__ import annotations

import pytest


@pytest.fixture
def ascii_db(pg_server) -> str:
    pg_server.execute("CREATE DATABASE api_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    yield pg_server.url("api_ascii")
    pg_server.execute("DROP DATABASE api_ascii WITH (FORCE)")


def test_a_database_not_in_utf8_gets_503_on_feedback_and_says_why_in_the_log(make_db_app, ascii_db, caplog):
    app = make_db_app(ascii_db)
    client = app.test_client()
    response = client.post("/feedback", json={"text": "nice", "label": 1, "client_id": "client-abcdef12"})
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"]
    assert "uses encoding SQL_ASCII; ytsentiment needs UTF8: create it with `createdb -E UTF8" in caplog.text
    assert client.post("/predict", json={"comments": ["nice"]}).status_code == 200  # predictions still served
