"""DNS deliverability: SPF, DKIM, DMARC and MX of the sending domain, asked with dnspython.

Gmail and Yahoo have required SPF, DKIM, DMARC (and alignment of the From domain) from bulk
senders since 2024; a sender learns of a mistake here from subscribers who never got the mail.
The resolver is the system's, or `mail.dns_server: HOST:PORT`."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from publisher.doctor.report import Check, failed, passed, skipped, warned
from publisher.mail.message import sender_address

G = "dns"
# RFC 2606 / 6761: names that never exist on the public DNS (tests, documentation, this host)
RESERVED = ("example.org", "example.com", "example.net", ".example", ".test", ".invalid",
            ".localhost", ".local", "localhost")


class Unreachable(Exception):
    """The resolver did not answer: nothing can be told about the records."""


class Dns:
    """A resolver that answers with lists: [] for a name or type that does not exist."""

    def __init__(self, server: str | None, timeout: float = 3.0):
        import dns.resolver

        if server:
            host, _, port = server.rpartition(":")
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [host.strip("[]")]
            self.resolver.port = int(port)
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.timeout = self.resolver.lifetime = timeout
        self.server = server or "the system resolver"
        self.dead = False

    def query(self, name: str, rdtype: str) -> list:
        import dns.exception
        import dns.resolver

        if self.dead:
            raise Unreachable(f"{self.server} did not answer")
        try:
            return list(self.resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.Timeout:
            self.dead = True
            raise Unreachable(f"{self.server} did not answer") from None
        except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
            raise Unreachable(f"{self.server}: {exc}") from None

    def txt(self, name: str) -> list[str]:
        return [b"".join(r.strings).decode("utf-8", "replace") for r in self.query(name, "TXT")]

    def addresses(self, host: str) -> list[str]:
        return [r.address for kind in ("A", "AAAA") for r in self.query(host, kind)]

    def mx(self, name: str) -> list[str]:
        return [str(r.exchange).rstrip(".") for r in self.query(name, "MX")]

    def txt_bytes(self, name: bytes, timeout: int = 5) -> bytes | None:
        """dkimpy's `dnsfunc`: the TXT record at `name`, so verification uses this resolver."""
        found = self.txt(name.decode().rstrip("."))
        return found[0].encode() if found else None


def reserved(domain: str) -> bool:
    return any(domain == r.lstrip(".") or domain.endswith(r if r.startswith(".") else "." + r)
               for r in RESERVED)


def org_domain(domain: str) -> str:
    """The organisational domain, approximated by the last two labels (no public suffix list:
    `example.co.uk` counts as `co.uk`, which only makes relaxed alignment stricter)."""
    return ".".join(domain.lower().rstrip(".").split(".")[-2:])


def dkim_domain(config) -> str:
    return (config.mail.dkim_domain or sender_address(config).rpartition("@")[2]).lower()


# ------------------------------------------------------------------------------------ SPF


def smtp_host(config) -> str:
    mail = config.mail
    return (urlsplit(mail.smtp_url).hostname if mail.smtp_url else mail.host) or "localhost"


def sending_ips(config, dns: Dns) -> tuple[list[str], str]:
    """(the addresses the world sees mail come from, why empty): empty when a relay or a
    local server sends it on, so only the relay's own SPF can say."""
    host = smtp_host(config)
    try:
        ips = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        if host == "localhost" or "." not in host:
            return [], f"{host} is a local relay"
        ips = dns.addresses(host)
        if not ips:
            return [], f"{host} does not resolve"
    if all(ipaddress.ip_address(ip).is_loopback for ip in ips):
        return [], f"{host} is a local relay"
    return ips, ""


def spf_result(dns: Dns, domain: str, ips: list[str], lookups: list[int]) -> str | None:
    """pass, fail, softfail, neutral or none for mail from `ips`; None: cannot tell (macros,
    ptr/exists, over RFC 7208's 10 lookups, more than one record)."""
    records = [t for t in dns.txt(domain) if t.lower().split(" ")[0] == "v=spf1"]
    if not records:
        return "none"
    if len(records) > 1:
        return None
    redirect = None
    for term in records[0].split()[1:]:
        name, eq, value = term.partition("=")
        if eq and ":" not in name and "/" not in name:
            redirect = value if name.lower() == "redirect" else redirect
            continue
        qualifier = term[0] if term[0] in "+-~?" else "+"
        term = term.lstrip("+-~?")
        mech, _, arg = term.partition(":")
        mech, _, cidr = mech.partition("/")
        if "%" in arg or mech.lower() in ("ptr", "exists"):
            return None
        try:
            hit = _matches(dns, mech.lower(), arg, cidr, domain, ips, lookups)
        except ValueError:  # a malformed ip4:/ip6: or prefix: a permerror
            return None
        if hit is None:
            return None
        if hit:
            return {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}[qualifier]
    if redirect:
        lookups[0] += 1
        return None if lookups[0] > 10 else spf_result(dns, redirect, ips, lookups)
    return "neutral"


def _matches(dns: Dns, mech, arg, cidr, domain, ips, lookups) -> bool | None:
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    if mech == "all":
        return True
    if mech in ("ip4", "ip6"):
        net = ipaddress.ip_network(arg, strict=False)
        return any(a.version == net.version and a in net for a in addresses)
    lookups[0] += 1
    if lookups[0] > 10:
        return None
    if mech == "include":
        inner = spf_result(dns, arg, ips, lookups)
        return None if inner is None else inner == "pass"
    target, _, prefix = (arg or domain).partition("/")
    prefix = prefix or cidr
    hosts = [target] if mech == "a" else dns.mx(target)[:10] if mech == "mx" else None
    if hosts is None:
        return None
    for host in hosts:
        for found in dns.addresses(host):
            ip = ipaddress.ip_address(found)
            bits = int(prefix) if prefix and ip.version == 4 else ip.max_prefixlen
            if any(a in ipaddress.ip_network(f"{found}/{bits}", strict=False) for a in addresses
                   if a.version == ip.version):
                return True
    return False


def check_spf(config, dns: Dns) -> Check:
    domain = sender_address(config).rpartition("@")[2].lower()
    records = [t for t in dns.txt(domain) if t.lower().split(" ")[0] == "v=spf1"]
    if not records:
        ips, _ = sending_ips(config, dns)
        server = " ".join(f"ip{ipaddress.ip_address(ip).version}:{ip}" for ip in ips) or \
            "ip4:<your server>"
        return failed(G, "spf", f"no SPF record for {domain}",
                      f'publish TXT at {domain}: "v=spf1 {server} -all" '
                      "(or your provider's include:)")
    if len(records) > 1:
        return failed(G, "spf", f"{len(records)} SPF records for {domain} (a permerror)",
                      "merge them into one v=spf1 record")
    ips, why = sending_ips(config, dns)
    if not ips:
        return warned(G, "spf", f"SPF record found for {domain}; cannot tell if it covers the "
                      f"sending server ({why})", "make sure it covers the relay's public address")
    result = spf_result(dns, domain, ips, [0])
    if result is None:
        return warned(G, "spf", f"cannot evaluate the SPF record of {domain} (macros, ptr, "
                      "exists or over 10 lookups)", "simplify it: ip4:/ip6:/include: only")
    if result == "pass":
        return passed(G, "spf", f"{domain} SPF allows {', '.join(ips)}")
    return failed(G, "spf", f"{domain} SPF gives {result} for {', '.join(ips)}",
                  f"add ip4:{ips[0]} (or your provider's include:) to the record at {domain}")


# ----------------------------------------------------------------------------------- DKIM


def _tags(record: str) -> dict[str, str]:
    out = {}
    for part in record.split(";"):
        key, eq, value = part.partition("=")
        if eq:
            out[key.strip().lower()] = "".join(value.split())
    return out


def check_dkim_record(config, dns: Dns) -> Check:
    import base64

    import dkim.crypto

    mail = config.mail
    if not mail.dkim_key:
        return warned(G, "dkim", "mail.dkim_key is not set: mail goes out unsigned",
                      "Gmail and Yahoo require DKIM from bulk senders: set mail.dkim_key")
    path = Path(mail.dkim_key)
    path = path if path.is_absolute() else config.root / path
    name = f"{mail.dkim_selector}._domainkey.{dkim_domain(config)}"
    fix = f"publish TXT at {name}: \"v=DKIM1; k=rsa; p=<openssl rsa -in {path.name} -pubout>\""
    try:
        private = dkim.crypto.parse_pem_private_key(path.read_bytes())
    except OSError as exc:
        return failed(G, "dkim", f"mail.dkim_key: cannot read {path}: {exc.strerror}",
                      "point mail.dkim_key at the PEM private key")
    except Exception:  # noqa: BLE001 - dkimpy raises its own ASN.1 errors
        return failed(G, "dkim", f"mail.dkim_key: {path} is not a PEM RSA private key",
                      "openssl genrsa -out dkim.pem 2048")
    records = [r for r in dns.txt(name) if "p=" in r]
    if not records:
        return failed(G, "dkim", f"no DKIM record at {name}", fix)
    tags = _tags(records[0])
    if not tags.get("p"):
        return failed(G, "dkim", f"the DKIM record at {name} is revoked (empty p=)", fix)
    try:
        public = dkim.crypto.parse_public_key(base64.b64decode(tags["p"]))
    except Exception:  # noqa: BLE001 - base64 or ASN.1
        return failed(G, "dkim", f"the DKIM record at {name} holds no RSA public key", fix)
    if (public["modulus"], public["publicExponent"]) != (private["modulus"],
                                                         private["publicExponent"]):
        return failed(G, "dkim", f"the DKIM record at {name} does not match mail.dkim_key", fix)
    return passed(G, "dkim", f"{name} matches mail.dkim_key ({private['modulus'].bit_length()}"
                  " bits)")


# ---------------------------------------------------------------------------------- DMARC


def dmarc_record(dns: Dns, domain: str) -> tuple[str, dict[str, str]] | None:
    for where in dict.fromkeys((domain, org_domain(domain))):
        found = [r for r in dns.txt(f"_dmarc.{where}") if r.replace(" ", "").upper()
                 .startswith("V=DMARC1")]
        if found:
            return f"_dmarc.{where}", _tags(found[0])
    return None


def check_dmarc(config, dns: Dns) -> list[Check]:
    domain = sender_address(config).rpartition("@")[2].lower()
    found = dmarc_record(dns, domain)
    if found is None:
        return [failed(G, "dmarc", f"no DMARC record at _dmarc.{domain}",
                       f'publish TXT at _dmarc.{domain}: "v=DMARC1; p=none; '
                       f'rua=mailto:dmarc@{domain}"')]
    name, tags = found
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        dmarc = failed(G, "dmarc", f"{name} has no valid p= policy", "add p=none (then tighten)")
    else:
        note = " (monitoring only)" if policy == "none" else ""
        dmarc = passed(G, "dmarc", f"{name}: p={policy}{note}")
    return [dmarc, _alignment(config, domain, tags)]


def _alignment(config, from_domain: str, tags: dict[str, str]) -> Check:
    if not config.mail.dkim_key:
        envelope = sender_address(config).rpartition("@")[2].lower()
        if envelope == from_domain:
            return warned(G, "alignment", "only SPF aligns (envelope = From); forwarded mail "
                          "fails DMARC", "set mail.dkim_key so DKIM d= aligns with From")
    d = dkim_domain(config)
    strict = tags.get("adkim", "r").lower() == "s"
    ok = d == from_domain if strict else org_domain(d) == org_domain(from_domain)
    mode = "strict" if strict else "relaxed"
    if ok:
        return passed(G, "alignment", f"DKIM d={d} aligns with From {from_domain} ({mode})")
    return failed(G, "alignment", f"DKIM d={d} does not align with From {from_domain} ({mode})",
                  f"set mail.dkim_domain to {from_domain} (and publish its key)")


def check_mx(config, dns: Dns) -> Check:
    domain = sender_address(config).rpartition("@")[2].lower()
    hosts = dns.mx(domain)
    if hosts:
        return passed(G, "mx", f"bounces to {domain} go to {', '.join(sorted(hosts)[:3])}")
    if dns.addresses(domain):
        return warned(G, "mx", f"no MX for {domain}: bounces fall back to its A record",
                      f"publish an MX record for {domain}")
    return failed(G, "mx", f"no MX (nor address) for {domain}: bounces are lost",
                  f"publish an MX record for {domain}")


def check_dns(config, timeout: float = 3.0) -> list[Check]:
    """Every DNS check; a resolver that does not answer is one warning, not a failure."""
    domain = sender_address(config).rpartition("@")[2].lower()
    if not config.mail.dns_server and reserved(domain):
        return [skipped(G, "domain", f"{domain} is reserved for tests and documentation: "
                        "no DNS to check")]
    try:
        dns = Dns(config.mail.dns_server, timeout)
    except Exception as exc:  # noqa: BLE001 - no /etc/resolv.conf, a bad nameserver address
        return [warned(G, "resolver", f"no DNS resolver: {exc}",
                       "set mail.dns_server: HOST:PORT")]
    out: list[Check] = []
    for step in (check_spf, check_dkim_record, check_dmarc, check_mx):
        try:
            found = step(config, dns)
        except Unreachable as exc:
            out.append(warned(G, "resolver", f"cannot check DNS: {exc}",
                              "check mail.dns_server or this machine's resolver"))
            break
        out.extend(found if isinstance(found, list) else [found])
    return out
