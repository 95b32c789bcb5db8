"""The built site: feed links, feed size, broken links and missing images across pages."""

from __future__ import annotations

from doctor_fixtures import NOW

from publisher.doctor.site import check_site, feed_links


def statuses(checks):
    return {c.name: c for c in checks}


def built(site):
    site.article("budget", "Un article.")
    site.article("musee", "Voir [le budget](../budget/).", date=NOW.replace(day=24))
    config = site.write()
    site.build(config)
    return config


def test_a_fresh_build_is_sound(site):
    config = built(site)
    found = statuses(check_site(config))
    assert {c.status for c in found.values()} == {"pass"}, found
    atom = config.path("output") / "feeds" / "all.atom.xml"
    assert "https://lefil.test/2024/11/budget/" in feed_links(atom)


def test_broken_links_missing_images_and_feed_problems_are_named(site):
    config = built(site)
    out = config.path("output")
    page = out / "2024" / "11" / "budget" / "index.html"
    page.write_text(page.read_text().replace(
        "</body>", '<a href="/ailleurs/">x</a><img src="../../../images/absente.png" alt="">'
        "</body>"))
    feed = out / "feeds" / "all.atom.xml"
    feed.write_text(feed.read_text().replace("2024/11/budget/", "2024/11/disparu/"))
    big = out / "feeds" / "big.rss.xml"
    big.write_text("<rss><channel><link>https://lefil.test/</link><description>"
                   + "x" * (1024 * 1024 + 1) + "</description></channel></rss>")
    found = statuses(check_site(config))
    assert found["page-links"].status == "fail"
    assert "https://lefil.test/ailleurs/ (on 2024/11/budget/index.html)" in \
        found["page-links"].detail
    assert found["images"].status == "fail" and "absente.png" in found["images"].detail
    assert found["feed-links"].status == "fail"
    assert "2024/11/disparu/" in found["feed-links"].detail
    assert found["feed-size"].status == "warn" and "big.rss.xml" in found["feed-size"].detail


def test_no_build_is_one_warning(site):
    assert [c.status for c in check_site(site.write())] == ["warn"]
