"""DNS checks against a real DNS server on 127.0.0.1 with good and bad records."""

from __future__ import annotations

import shutil

from doctor_fixtures import DATA, DOMAIN, good_records

from publisher.doctor.dns import Dns, check_dns, spf_result


def statuses(checks):
    return {c.name: c.status for c in checks}


def test_no_spf_and_no_dmarc_fail_and_are_named(site, zone):
    zone.add(DOMAIN, "MX", f"mx.{DOMAIN}")
    found = statuses(check_dns(site.write(dns=zone)))
    assert found["spf"] == "fail" and found["dmarc"] == "fail"
    assert found["mx"] == "pass"
    assert found["dkim"] == "warn"  # no key configured: unsigned, Gmail's bulk rules want one


def test_spf_dkim_and_dmarc_published_no_failure(site, zone):
    shutil.copy(DATA / "dkim.pem", site.root / "dkim.pem")
    checks = check_dns(site.write("  dkim_key: dkim.pem\n", dns=good_records(zone)))
    assert [c for c in checks if c.status == "fail"] == []
    assert statuses(checks) == {"spf": "pass", "dkim": "pass", "dmarc": "pass",
                                "alignment": "pass", "mx": "pass"}


def test_a_dkim_record_of_another_key_fails(site, zone):
    shutil.copy(DATA / "dkim.pem", site.root / "dkim.pem")
    good_records(zone, key="other")
    found = {c.name: c for c in check_dns(site.write("  dkim_key: dkim.pem\n", dns=zone))}
    assert found["dkim"].status == "fail"
    assert "does not match" in found["dkim"].detail


def test_spf_that_does_not_cover_the_server_fails(site, zone):
    zone.add(DOMAIN, "TXT", "v=spf1 ip4:198.51.100.7 ~all")
    found = {c.name: c for c in check_dns(site.write(dns=zone))}
    assert found["spf"].status == "fail"
    assert "softfail" in found["spf"].detail and "192.0.2.10" in found["spf"].fix


def test_spf_include_a_and_mx_and_a_relay_that_cannot_be_told(site, zone):
    zone.add(DOMAIN, "TXT", f"v=spf1 include:_spf.{DOMAIN} -all")
    zone.add(f"_spf.{DOMAIN}", "TXT", f"v=spf1 a:out.{DOMAIN} mx:{DOMAIN} ~all")
    zone.add(f"out.{DOMAIN}", "A", "203.0.113.9")
    zone.add(DOMAIN, "MX", f"mx.{DOMAIN}")
    zone.add(f"mx.{DOMAIN}", "A", "192.0.2.25")
    dns = Dns(zone.server)
    assert spf_result(dns, DOMAIN, ["203.0.113.9"], [0]) == "pass"  # include -> a:
    assert spf_result(dns, DOMAIN, ["192.0.2.25"], [0]) == "pass"  # include -> mx
    assert spf_result(dns, DOMAIN, ["192.0.2.26"], [0]) == "fail"
    zone.add(f"broken.{DOMAIN}", "TXT", "v=spf1 ip4:300.1.2.3 -all")
    assert spf_result(dns, f"broken.{DOMAIN}", ["192.0.2.26"], [0]) is None  # cannot tell
    relay = {c.name: c for c in check_dns(site.write("  host: localhost\n", dns=zone))}
    assert relay["spf"].status == "warn" and "local relay" in relay["spf"].detail


def test_dmarc_alignment_fails_when_dkim_signs_for_another_domain(site, zone):
    shutil.copy(DATA / "dkim.pem", site.root / "dkim.pem")
    good_records(zone)
    zone.add("publisher._domainkey.other.example", "TXT",
             f"v=DKIM1; k=rsa; p={(DATA / 'dkim.pub').read_text().strip()}")
    found = statuses(check_dns(site.write(
        "  dkim_key: dkim.pem\n  dkim_domain: other.example\n", dns=zone)))
    assert found["dkim"] == "pass" and found["alignment"] == "fail"


def test_a_dns_server_that_does_not_answer_is_a_warning(site, tmp_path):
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    try:
        config = site.write()
        config = config.model_copy(update={"mail": config.mail.model_copy(
            update={"dns_server": f"127.0.0.1:{silent.getsockname()[1]}"})})
        checks = check_dns(config, timeout=0.3)
    finally:
        silent.close()
    assert [(c.name, c.status) for c in checks] == [("resolver", "warn")]


def test_reserved_domains_are_not_asked_without_a_dns_server(site):
    config = site.write()
    assert [c.status for c in check_dns(config)] == ["skip"]
