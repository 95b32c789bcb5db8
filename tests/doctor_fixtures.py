"""The doctor tests' fixtures: a real DNS server on 127.0.0.1 (dnslib) serving the records a test writes, and a project
folder whose mail goes through it: the doctor asks it as it would ask the world."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

DATA = Path(__file__).parent / "doctor" / "data"
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2024, 11, 25, 9, 0, tzinfo=PARIS)
DOMAIN = "lefil.test"


class Zone:
    """name -> {type: [values]}; a name with no record answers NXDOMAIN."""

    def __init__(self):
        self.records: dict[str, dict[str, list[str]]] = {}

    def add(self, name: str, rtype: str, value: str) -> "Zone":
        self.records.setdefault(name.lower().rstrip("."), {}).setdefault(rtype, []).append(value)
        return self

    def resolve(self, request, handler):
        from dnslib import MX, QTYPE, RCODE, RR, TXT, A

        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        qtype = QTYPE[request.q.qtype]
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in self.records[name].get(qtype, []):
            if qtype == "TXT":
                rdata = TXT([value[i:i + 255] for i in range(0, len(value), 255)])
            elif qtype == "MX":
                rdata = MX(value)
            elif qtype == "A":
                rdata = A(value)
            else:
                continue
            reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=rdata, ttl=60))
        return reply


@pytest.fixture
def zone():
    """(Zone, "127.0.0.1:PORT") of a DNS server answering over UDP while the test runs."""
    from dnslib.server import DNSLogger, DNSServer

    records = Zone()
    server = DNSServer(records, address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,"
                                        "-data", prefix=False))
    server.start_thread()
    records.server = f"127.0.0.1:{server.server.server_address[1]}"
    try:
        yield records
    finally:
        server.stop()
        server.server.server_close()


def good_records(zone: Zone, key: str = "dkim") -> Zone:
    public = (DATA / f"{key}.pub").read_text().strip()
    zone.add(DOMAIN, "TXT", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.add(DOMAIN, "MX", f"mx.{DOMAIN}")
    zone.add(f"mx.{DOMAIN}", "A", "192.0.2.25")
    zone.add(f"publisher._domainkey.{DOMAIN}", "TXT", f"v=DKIM1; k=rsa; p={public}")
    zone.add(f"_dmarc.{DOMAIN}", "TXT", f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}")
    return zone


ARTICLE = """---
title: {title}
date: {date}
category: Culture
---

{body}
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A project folder: write(extra_yaml, dns=zone) -> config; article(slug, body)."""
    from publisher.config import load_config

    for var in ("PUBLISHER_DATABASE_URL", "PUBLISHER_SMTP_URL", "PUBLISHER_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-0123456789abcdefghijklmnopqrstuvwxyz")
    (tmp_path / "content").mkdir()

    class Site:
        root = tmp_path
        path = tmp_path / "config.yaml"

        def write(self, mail: str = "", dns: Zone | None = None, url: str = "https://lefil.test/",
                  top: str = ""):
            server = f"  dns_server: {dns.server}\n" if dns else ""
            self.path.write_text(
                f"site:\n  url: {url}\n  title: Le Fil\n  email: news@{DOMAIN}\n"
                f"  postal_address: 1 rue de l'Exemple, Paris\n"
                f"{top}mail:\n  transport: smtp\n  host: 192.0.2.10\n{server}{mail}",
                encoding="utf-8")
            monkeypatch.setenv("PUBLISHER_CONFIG", str(self.path))
            return load_config(self.path, env={})

        def article(self, slug: str, body: str = "Le texte.", date: datetime = NOW) -> None:
            (tmp_path / "content" / f"{slug}.md").write_text(
                ARTICLE.format(title=slug.replace("-", " ").title(), date=date.isoformat(),
                               body=body), encoding="utf-8")

        def build(self, config, now: datetime = NOW) -> None:
            from publisher.site.build import build

            build(config, now)

    return Site()
