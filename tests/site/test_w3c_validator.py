"""The feeds through the W3C Feed Validation Service's own code (github.com/w3c/feedvalidator,
Python 3), at the level of the online validator ("AA"): the podcast feed with its iTunes tags,
Atom and RSS with categories and enclosures, tag and author feeds.

The validator is not on PyPI: point PUBLISHER_FEEDVALIDATOR at its `src` folder (it needs
html5lib importable, e.g. `pip install html5lib`). Without it this test is skipped."""

from __future__ import annotations

import os
import sys

import pytest
from site_fixtures import NOW, PUBLICATION, site_config

from publisher.site.build import build

SOURCE = os.environ.get("PUBLISHER_FEEDVALIDATOR", "")
FEEDS = ("feeds/podcast.rss.xml", "feeds/all.atom.xml", "feeds/all.rss.xml",
         "feeds/ecologie.tag.atom.xml", "feeds/lea-dubois.author.rss.xml",
         "feeds/science.atom.xml")


@pytest.mark.skipif(not os.path.isdir(os.path.join(SOURCE, "feedvalidator")),
                    reason="PUBLISHER_FEEDVALIDATOR is not the src folder of w3c/feedvalidator")
def test_the_w3c_validator_accepts_every_kind_of_feed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(SOURCE)
    import feedvalidator
    from feedvalidator import compatibility
    from feedvalidator.formatter.text_plain import Formatter

    config = site_config(tmp_path, PUBLICATION,
                         "feeds:\n  podcast:\n    image: /images/cover.png\n    category: Science\n")
    build(config, NOW)
    problems = {}
    for rel in FEEDS:
        data = (config.path("output") / rel).read_bytes()
        try:
            events = feedvalidator.validateString(data, firstOccurrenceOnly=1,
                                                  base=config.site.url + rel)["loggedEvents"]
        except feedvalidator.logging.ValidationFailure as failure:
            events = [failure.event]
        if lines := Formatter(compatibility.AA(events)):
            problems[rel] = lines
    assert problems == {}
    for name in [m for m in sys.modules if m.startswith("feedvalidator")]:
        del sys.modules[name]
