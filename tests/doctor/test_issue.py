"""The next issue as the doctor reads it: links to pages the build did not write, the text
part, headers and a DKIM signature verified against the key the DNS server publishes."""

from __future__ import annotations

import shutil

from doctor_fixtures import DATA, NOW, good_records

from publisher.doctor import diagnose


def by_name(report):
    return {f"{c.group}.{c.name}": c for c in report.checks}


def test_a_link_to_a_page_the_build_did_not_write_is_named(site, zone):
    good_records(zone)
    site.article("budget", "Voir [la suite](https://lefil.test/2024/11/page-jamais-ecrite/).")
    site.article("musee", "Une exposition.")
    config = site.write(dns=zone, top="newsletter:\n  content: full\n")
    site.build(config)
    found = by_name(diagnose(config, NOW, history=(None, frozenset())))
    links = found["issue.links"]
    assert links.status == "fail"
    assert "https://lefil.test/2024/11/page-jamais-ecrite/" in links.detail
    assert "budget" not in links.detail  # the article pages themselves were written
    assert found["issue.text-part"].status == "pass"
    assert found["issue.size"].status == "pass"


def test_a_sound_issue_with_published_records_has_no_failure(site, zone):
    good_records(zone)
    shutil.copy(DATA / "dkim.pem", site.root / "dkim.pem")
    site.article("budget", "Voir [le musée](https://lefil.test/2024/11/musee/).")
    site.article("musee", "Une exposition.")
    config = site.write("  dkim_key: dkim.pem\n", dns=zone, top="newsletter:\n  content: full\n")
    site.build(config)
    report = diagnose(config, NOW, history=(None, frozenset()))
    assert report.failures == [], report.to_json()
    found = by_name(report)
    assert found["headers.dkim-signature"].status == "pass"
    assert found["headers.list-unsubscribe"].status == "pass"
    assert found["dns.bulk-sender"].status == "pass"
    for name in ("lang", "alt", "tables", "headings", "link-text", "contrast"):
        assert found[f"a11y.{name}"].status == "pass", found[f"a11y.{name}"]


def test_a_signature_the_published_key_cannot_verify_fails(site, zone):
    good_records(zone, key="other")
    shutil.copy(DATA / "dkim.pem", site.root / "dkim.pem")
    site.article("budget")
    config = site.write("  dkim_key: dkim.pem\n", dns=zone)
    site.build(config)
    found = by_name(diagnose(config, NOW, presend=True, history=(None, frozenset())))
    assert found["headers.dkim-signature"].status == "fail"
    assert found["dns.dkim"].status == "fail"


def test_http_unsubscribe_fails_over_smtp_but_only_warns_into_the_outbox(site, zone):
    good_records(zone)
    site.article("budget")
    config = site.write(dns=zone, url="http://lefil.test/")
    site.build(config)
    found = by_name(diagnose(config, NOW, presend=True, history=(None, frozenset())))
    assert found["headers.list-unsubscribe"].status == "fail"
    outbox = site.write("  transport: outbox\n", url="http://lefil.test/")
    outbox = outbox.model_copy(update={"mail": outbox.mail.model_copy(
        update={"transport": "outbox"})})
    report = diagnose(outbox, NOW, presend=True, history=(None, frozenset()))
    assert by_name(report)["headers.list-unsubscribe"].status == "warn"
    assert by_name(report)["dns.transport"].status == "skip"


def test_without_a_build_links_are_a_warning_not_a_failure(site, zone):
    good_records(zone)
    site.article("budget")
    config = site.write(dns=zone)
    found = by_name(diagnose(config, NOW, presend=True, history=(None, frozenset())))
    assert found["issue.links"].status == "warn"


def test_nothing_new_is_said(site, zone):
    config = site.write(dns=good_records(zone))
    found = by_name(diagnose(config, NOW, history=(None, frozenset())))
    assert found["issue.next"].status == "skip"


def test_external_links_are_fetched_only_online(site, zone):
    """A real HTTP server on 127.0.0.1: one page answers, one is a 404."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Pages(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200 if self.path == "/ok" else 404)
            self.end_headers()

        do_GET = do_HEAD

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        site.article("budget", f"Voir [la source]({base}/ok) et [l'autre]({base}/disparu).")
        config = site.write(dns=good_records(zone), top="newsletter:\n  content: full\n")
        site.build(config)
        offline = by_name(diagnose(config, NOW, history=(None, frozenset())))
        assert offline["issue.external-links"].status == "skip"
        online = by_name(diagnose(config, NOW, online=True, history=(None, frozenset())))
    finally:
        server.shutdown()
        server.server_close()
    found = online["issue.external-links"]
    assert found.status == "fail"
    assert f"{base}/disparu (HTTP 404)" in found.detail and f"{base}/ok " not in found.detail
