"""Hypothesis throws arbitrary forms, headers and paths at the form endpoints (Starlette's
TestClient, in process: hundreds of examples in seconds). Whatever comes in: no 500, no
stored category the site does not have, no field longer than its cap, the headers on every
answer."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from delivery_fixtures import write_articles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from publisher.audience.tokens import Tokens
from publisher.store import open_store
from publisher.web.app import create_app

NOW = datetime.now(timezone.utc)
SECRET = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz"

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
fields = st.lists(st.tuples(st.sampled_from(["email", "name", "categories", "token", "x"]), text),
                  max_size=12)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from conftest import write_config

    root = tmp_path_factory.mktemp("fuzz")
    write_articles(root / "content", NOW)
    cfg = write_config(root, "web:\n  subscribe_rate: 1000000\n")
    from publisher.config import load_config

    config = load_config(cfg, env={"PUBLISHER_SECRET_KEY": SECRET})
    store = open_store(config)
    store.add_subscriber("a@example.org", "", [], "active", NOW)
    with TestClient(create_app(config, store=store), raise_server_exceptions=True) as c:
        c.store = store
        yield c


def _check(answer) -> None:
    assert answer.status_code in (200, 400, 404, 405, 413, 429), answer.status_code
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in answer.headers


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(form=fields, path=st.sampled_from(["/subscribe", "/unsubscribe", "/preferences", "/confirm"]))
def test_any_form_on_any_endpoint(client, form, path):
    body = urlencode(form).encode()
    _check(client.post(path, content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(categories=st.lists(text, max_size=30), name=text)
def test_preferences_keep_only_the_sites_categories(client, categories, name):
    token = Tokens(SECRET).make("preferences", "a@example.org")
    answer = client.post("/preferences", data={"token": token, "categories": categories,
                                               "name": name})
    _check(answer)
    assert set(client.store.get_subscriber("a@example.org").categories) <= {"Tech", "Art"}


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                    blacklist_categories=("Cc",)), max_size=60),
       query=text)
def test_any_path_and_query(client, path, query):
    answer = client.get("/" + path.lstrip("/"), params={"token": query})
    assert answer.status_code < 500
    if any(part.startswith(".") for part in path.split("/")) and "?" not in path and "#" not in path:
        assert answer.status_code in (404, 307)


def test_the_form_parser_caps_fields(client):
    many = urlencode([("email", "m@example.org")] + [("categories", i) for i in range(5000)])
    answer = client.post("/subscribe", content=many.encode(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code in (400, 413)
