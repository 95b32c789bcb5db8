"""`publisher doctor`: what would hurt a send, found before it goes out.

    report = diagnose(config, now)            # every check; online=True asks external links
    check_before_send(config, now, articles, store)  # offline subset; raises on a failure

It renders the next issue as `newsletter preview` does (so it sits above `newsletter`) and
asks DNS for what Gmail and Yahoo require from bulk senders. With the outbox transport no mail
reaches a real mailbox, so DNS is not asked (unless `mail.dns_server` is set) and what only
matters for delivery is a warning, never a failure."""

from __future__ import annotations

from datetime import datetime

from publisher.doctor.report import FAIL, PASS, SKIP, Check, Report, skipped
from publisher.errors import PublisherError


class DoctorRefused(PublisherError):
    """A send refused because a check failed."""


def transport_kind(config) -> str:
    return config.mail.transport or ("smtp" if config.mail.smtp_url else "outbox")


def diagnose(config, now: datetime, *, online: bool = False, presend: bool = False,
             articles=None, history=None) -> Report:
    """Every check. `presend`: only the quick offline ones (DNS with short timeouts, the next
    issue), as run before a send; `history` is (last issue, sent article ids) when the caller
    holds the store."""
    from publisher.doctor import issue as next_issue
    from publisher.doctor.a11y import check_accessibility
    from publisher.doctor.dns import check_dns
    from publisher.doctor.headers import check_headers, check_signature

    outbox = transport_kind(config) == "outbox"
    asks_dns = not outbox or bool(config.mail.dns_server)
    timeout = 2.0 if presend else 5.0
    report = Report()
    if asks_dns:
        report.extend(check_dns(config, timeout))
    else:
        report.extend([skipped("dns", "transport", "mail goes to the outbox folder: DNS not "
                               "asked (set mail.transport: smtp, or mail.dns_server)")])
    if articles is None:
        from publisher.content import load_articles

        articles = load_articles(config).published(now)
    last, sent = history if history is not None else next_issue.history(config)
    found = next_issue.next_issue(config, articles, now, last, sent)
    if found is None:
        report.extend([skipped("issue", "next", "nothing new: no issue to check")])
    else:
        report.extend(next_issue.check_links(config, found, online and not presend))
        report.extend([next_issue.check_size(config, found), next_issue.check_text_part(found)])
        report.extend(check_accessibility(found.tree))
        report.extend(check_headers(config, found.message))
        if asks_dns:
            report.extend([check_signature(config, found.message, timeout)])
        if not presend:
            from publisher.doctor.spam import check_spam

            report.extend([check_spam(found.message)])
    if not presend:
        from publisher.doctor.site import check_site

        report.extend(check_site(config))
    after_dns = next((i for i, c in enumerate(report.checks) if c.group != "dns"),
                     len(report.checks))
    report.checks.insert(after_dns, bulk_sender_summary(report.checks))
    if outbox:
        why = "outbox transport: no real mailbox"
        report = report.downgraded("dns", why).downgraded("headers", why)
    return report


RULES = [("dns", "spf", "SPF"), ("dns", "dkim", "DKIM"), ("dns", "dmarc", "DMARC"),
         ("dns", "alignment", "alignment"), ("headers", "list-unsubscribe", "one-click")]


def bulk_sender_summary(checks: list[Check]) -> Check:
    """Gmail's and Yahoo's rules for bulk senders (2024) in one line."""
    by = {(c.group, c.name): c.status for c in checks}
    if not any(g == "dns" and s != SKIP for (g, _), s in by.items()):
        return skipped("dns", "bulk-sender", "Gmail/Yahoo bulk-sender rules: DNS not checked")
    parts = [f"{label} {by.get((g, n), 'unchecked')}" for g, n, label in RULES]
    statuses = [by.get((g, n), "warn") for g, n, _ in RULES]
    status = FAIL if FAIL in statuses else PASS if all(s == PASS for s in statuses) else "warn"
    fix = "fix the failures above" if status == FAIL else \
        "see the warnings above" if status != PASS else ""
    return Check("dns", "bulk-sender", status, "Gmail/Yahoo bulk-sender rules: "
                 + ", ".join(parts), fix)


def check_before_send(config, now: datetime, articles, store) -> Report:
    """The offline checks on the issue about to be made; DoctorRefused when one fails.
    Callers skip it on `--skip-doctor` or `mail.doctor: false`."""
    last = store.last_issue()
    history = (last, store.sent_article_ids() if last else frozenset())
    report = diagnose(config, now, presend=True, articles=articles, history=history)
    if not report.ok:
        raise DoctorRefused(f"send refused by publisher doctor: {report.summary()}; run "
                            "`publisher doctor` for the fixes (or send with --skip-doctor; "
                            "mail.doctor: false for scheduled sends)")
    return report
