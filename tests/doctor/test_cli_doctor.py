"""`publisher doctor` through its entry point, and the check every send runs first."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from doctor_fixtures import DOMAIN, good_records

from publisher.cli import main


def doctor(*args):
    return CliRunner().invoke(main, ["doctor", *args])


def test_no_spf_and_no_dmarc_exit_1_and_are_both_named(site, zone):
    zone.add(DOMAIN, "MX", f"mx.{DOMAIN}")
    site.write(dns=zone)
    result = doctor()
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any("dns.spf" in line and "fail" in line for line in lines), result.output
    assert any("dns.dmarc" in line and "fail" in line for line in lines), result.output
    assert "no SPF record for lefil.test" in result.output
    assert "_dmarc.lefil.test" in result.output


def test_json_is_valid_and_says_what_failed(site, zone):
    zone.add(DOMAIN, "MX", f"mx.{DOMAIN}")
    site.write(dns=zone)
    result = doctor("--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    failed = {c["name"] for c in data["checks"] if c["status"] == "fail"}
    assert {"spf", "dmarc"} <= failed and data["ok"] is False
    assert all(c["fix"] for c in data["checks"] if c["status"] == "fail")
    spf = next(c for c in data["checks"] if c["name"] == "spf")
    assert '"v=spf1 ip4:192.0.2.10 -all"' in spf["fix"]  # the fix names the server


def test_published_records_exit_0(site, zone):
    site.write(dns=good_records(zone))
    result = doctor("--json")
    data = json.loads(result.output)
    assert [c for c in data["checks"] if c["group"] == "dns" and c["status"] == "fail"] == []
    assert result.exit_code == 0, result.output


def _recent_article_with_broken_link(site):
    when = datetime.now(timezone.utc) - timedelta(hours=1)
    site.article("budget", "Voir [la suite](https://lefil.test/jamais-ecrite/).", date=when)


def test_a_send_is_refused_on_a_failure_unless_skip_doctor(site, zone):
    """Into the outbox (no DNS failure can hurt it), a broken link still refuses the send."""
    _recent_article_with_broken_link(site)
    config = site.write("  transport: outbox\n", dns=good_records(zone),
                        top="newsletter:\n  content: full\n")
    site.build(config, datetime.now(timezone.utc))
    from publisher.store import open_store

    store = open_store(config)
    store.add_subscriber("lea@example.org", "", [], "active", datetime.now(timezone.utc))
    store.close()
    refused = CliRunner().invoke(main, ["newsletter", "send"])
    assert refused.exit_code == 1
    assert "send refused by publisher doctor" in refused.output
    assert "issue.links" in refused.output and "--skip-doctor" in refused.output
    outbox = site.root / "var" / "outbox"
    assert not list(outbox.glob("*.eml")) if outbox.exists() else True
    sent = CliRunner().invoke(main, ["newsletter", "send", "--skip-doctor"])
    assert sent.exit_code == 0, sent.output
    assert len(list(outbox.glob("*.eml"))) == 1
