"""The dashboard served over real HTTP with PUBLISHER_ADMIN_PASSWORD set, over a project with
a sent issue and thousands of subscribers (tests/admin_fixtures.py)."""

from __future__ import annotations

import pytest
from admin_fixtures import PASSWORD, AdminClient, fill
from delivery_fixtures import LiveServer


@pytest.fixture
def admin(project, monkeypatch):
    from publisher.web.app import create_app

    monkeypatch.setenv("PUBLISHER_ADMIN_PASSWORD", PASSWORD)
    store = fill(project)
    with LiveServer(create_app(project.config(), store=store)) as server:
        with AdminClient(base_url=server.url) as client:
            client.store, client.project = store, project
            yield client


@pytest.fixture
def admin_client():
    """The client class, for tests that serve an app of their own."""
    return AdminClient
