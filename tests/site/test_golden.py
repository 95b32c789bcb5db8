"""The sample site, built at a fixed time, byte for byte as reviewed: a change to a reader, a
template or a feed writer shows here as a diff before a reader of the site sees it.

After a change meant to alter the output: `pytest tests/test_golden.py --update-golden`, then
review `git diff tests/golden` as carefully as the code."""

from __future__ import annotations

from datetime import datetime, timezone

from publisher.site.build import build

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
COPIED = ("static/", "images/", "feeds/feed.xsl")  # copied as they are, not made by the build


def outputs_of(out) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith(COPIED)}


def test_sample_site_is_built_as_reviewed(site, load, golden):
    config = load(site[0])
    build(config, NOW)
    golden("sample-site", outputs_of(config.path("output")))


def test_a_clean_rebuild_in_parallel_makes_the_same_bytes(site, load, tmp_path):
    """Two worker processes, no cache: the same site as one process builds."""
    config = load(site[0])
    build(config, NOW, use_cache=False)
    first = outputs_of(config.path("output"))
    from publisher.site.build import clean

    clean(config)
    parallel = config.model_copy(update={"build": config.build.model_copy(update={"workers": 2})})
    import publisher.site.build as b

    threshold, b.PARALLEL_THRESHOLD = b.PARALLEL_THRESHOLD, 1
    try:
        build(parallel, NOW, use_cache=False)
    finally:
        b.PARALLEL_THRESHOLD = threshold
    assert outputs_of(config.path("output")) == first


def test_sample_newsletter_is_rendered_as_reviewed(golden):
    """The digest of the sample articles for one named subscriber: subject, HTML (MJML
    compiled) and the plain-text part."""
    from newsletter_fixtures import NOW as ISSUE_NOW
    from newsletter_fixtures import SINCE, make_config

    from publisher.content import load_articles
    from publisher.newsletter.issue import plan_issue, render_issue

    config = make_config()
    plan = plan_issue(load_articles(config).published(ISSUE_NOW), SINCE, 7, ISSUE_NOW, config)
    rendered = render_issue(plan, config)
    html, text = rendered.personal("Camille Dupont", "https://example.org/blog/u/TOKEN",
                                   "https://example.org/blog/p/TOKEN")
    golden("sample-newsletter", {"subject.txt": rendered.subject.encode() + b"\n",
                                 "issue.html": html.encode(), "issue.txt": text.encode()})
