"""The headers a mailbox provider reads before it shows a message: one-click unsubscribe
(RFC 8058, required by Gmail and Yahoo), List-Id, a Message-ID of the sender's domain, a
Feedback-ID when configured, and a DKIM signature that verifies against the published key."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

from publisher.doctor.dns import Dns, org_domain, reserved
from publisher.doctor.report import Check, failed, passed, skipped, warned
from publisher.mail.message import sender_address

G = "headers"


def check_headers(config, message: bytes) -> list[Check]:
    msg = message_from_bytes(message, policy=default)
    out = []
    targets = re.findall(r"<([^>]+)>", str(msg.get("List-Unsubscribe", "")))
    https = [t for t in targets if t.startswith("https://")]
    post = str(msg.get("List-Unsubscribe-Post", "")).strip()
    if not https:
        out.append(failed(G, "list-unsubscribe", "List-Unsubscribe has no https URL "
                          f"({', '.join(targets) or 'none'}): no one-click unsubscribe",
                          "serve the site over https (site.url: https://...)"))
    elif post != "List-Unsubscribe=One-Click":
        out.append(failed(G, "list-unsubscribe", "no List-Unsubscribe-Post: One-Click",
                          "keep the default headers (RFC 8058)"))
    else:
        out.append(passed(G, "list-unsubscribe", "https one-click unsubscribe (RFC 8058)"))
    list_id = str(msg.get("List-Id", ""))
    out.append(passed(G, "list-id", list_id) if list_id else
               failed(G, "list-id", "no List-Id", "set mail.list_id"))
    domain = sender_address(config).rpartition("@")[2].lower()
    mid = str(msg.get("Message-ID", ""))
    mid_domain = mid.strip("<> ").rpartition("@")[2].lower()
    if org_domain(mid_domain) == org_domain(domain):
        out.append(passed(G, "message-id", f"Message-ID domain {mid_domain}"))
    else:
        out.append(warned(G, "message-id", f"Message-ID domain {mid_domain} is not the From "
                          f"domain {domain}", "serve site.url on the From domain"))
    feedback = getattr(config.mail, "feedback_id", None)
    if feedback:
        out.append(passed(G, "feedback-id", str(msg["Feedback-ID"])) if msg["Feedback-ID"] else
                   failed(G, "feedback-id", "mail.feedback_id is set but no Feedback-ID header",
                          "upgrade publisher or unset mail.feedback_id"))
    return out


def check_signature(config, message: bytes, timeout: float = 3.0) -> Check:
    """Sign as a send would, verify as a receiver would: against the key in DNS."""
    import dkim

    from publisher.errors import ConfigError
    from publisher.mail.dkim import DkimSigner

    try:
        signer = DkimSigner.from_config(config)
    except ConfigError as exc:
        return failed(G, "dkim-signature", exc.problems[0], "fix mail.dkim_key")
    if signer is None:
        return warned(G, "dkim-signature", "unsigned (no mail.dkim_key)",
                      "set mail.dkim_key: Gmail and Yahoo require DKIM from bulk senders")
    domain = signer.domain.decode()
    if not config.mail.dns_server and reserved(domain):
        return skipped(G, "dkim-signature", f"{domain} is reserved: no published key to verify")
    try:
        signed = signer.sign(message)
    except Exception as exc:  # noqa: BLE001 - dkimpy's KeyFormatError and friends
        return failed(G, "dkim-signature", f"cannot sign with mail.dkim_key: {exc}",
                      "mail.dkim_key must be a PEM RSA private key")
    try:
        resolver = Dns(config.mail.dns_server, timeout)
        ok = dkim.verify(signed, dnsfunc=resolver.txt_bytes)
    except Exception as exc:  # noqa: BLE001 - Unreachable, or no resolver configuration at all
        return warned(G, "dkim-signature", f"cannot fetch the key: {exc}",
                      "check mail.dns_server or this machine's resolver")
    selector = config.mail.dkim_selector
    if ok:
        return passed(G, "dkim-signature", f"signature d={domain} s={selector} verifies")
    return failed(G, "dkim-signature", f"signature d={domain} s={selector} does not verify "
                  "against the published key",
                  f"publish mail.dkim_key's public half at {selector}._domainkey.{domain}")
