#!/usr/bin/env python3
"""Render a 50-article issue and personalise it for 100,000 subscribers: complete MIME
messages as bytes, ready for SMTP, built and dropped one at a time (nothing is sent).

    python bench/digest.py [--subscribers 100000] [--articles 50] [--naive 300] [--rhythms 4]

Prints, from the same run: the cost of one MJML compile, the naive way (a fresh
EmailMessage per recipient, measured on --naive recipients) and the splice, in messages per
second, with the process's resident memory early and at the end (flat: the stream holds one
message at a time). A sample of the spliced messages is parsed back and checked.

With --rhythms N (default 4: instant, daily, weekly, monthly) and --categories 5, the same
subscribers also go through each rhythm's send path, ledger excepted (issue 17): each one's
due share (newsletter.rhythms.due_shares, a seventh having received the newest articles
already: a rhythm switch), then `IssueComposer` for a delivery of that share, as the sender
calls it (its unsubscribe and preferences tokens made per message). Printed beside the splice:
the cost stays per audience (rhythm x categories x share), not per subscriber.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from publisher.config import parse_config  # noqa: E402
from publisher.models import Article, pack_html  # noqa: E402
from publisher.newsletter.issue import plan_issue, render_issue  # noqa: E402
from publisher.newsletter.personalise import Recipient, compile_issue  # noqa: E402
from publisher.newsletter.templates import compile_mjml  # noqa: E402

WORDS = ("alliance stratégique russie corée nord ukraine soldats obus missiles front communauté "
         "internationale sanctions énergie infrastructures échanges diplomatie région sécurité "
         "accord défense mutuelle technologies militaires pénuries munitions équilibre").split()
CATEGORIES = ["Nouvelles", "Économie", "Culture", "Sport", "Science", "Politique"]
NOW = datetime(2024, 11, 25, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
FIRST_NAMES = ["Zoë", "Jean", "Amélie", "Noah", "Léa", "Karim", "Sofía", "Chloé", ""]


def articles(n: int, config) -> list[Article]:
    r = random.Random(4)
    out = []
    for i in range(n):
        title = " ".join(r.choice(WORDS) for _ in range(r.randint(5, 10))).capitalize()
        summary = " ".join(r.choice(WORDS) for _ in range(50)) + " …"
        slug = f"article-{i}"
        date = NOW - timedelta(hours=3 * i + 1)
        url = f"{config.site.url}{date:%Y/%m}/{slug}/"
        out.append(Article(
            source=f"{slug}.md", id=f"tag:example.org,{date:%Y-%m-%d}:/{slug}", title=title,
            slug=slug, date=date, updated=date, categories=(r.choice(CATEGORIES),), tags=(),
            author="La rédaction", lang="fr", summary=summary, body=pack_html(f"<p>{summary}</p>"), url=url,
            path=f"{date:%Y/%m}/{slug}/index.html", digest=str(i),
        ))
    return out


def recipients(n: int, site_url: str):
    for i in range(n):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} Martin-{i}" if i % len(FIRST_NAMES) else ""
        token = f"{i:08d}.{(i * 2654435761) % 2**32:08x}"
        yield Recipient(
            email=f"lecteur{i}@example.org", name=name,
            unsubscribe_url=f"{site_url}unsubscribe?token={token}",
            preferences_url=f"{site_url}preferences?token={token}",
        )


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def naive_message(rendered, config, r: Recipient) -> bytes:
    html, text = rendered.personal(r.name, r.unsubscribe_url, r.preferences_url)
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = f"{config.site.title} <{config.site.email}>"
    msg["To"] = f"{r.name} <{r.email}>" if r.name else r.email
    msg["Subject"] = rendered.subject
    msg["Date"] = NOW
    msg["List-Unsubscribe"] = f"<{r.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--articles", type=int, default=50)
    ap.add_argument("--naive", type=int, default=300, help="recipients for the naive measure")
    ap.add_argument("--rhythms", type=int, default=4, help="rhythms for the rhythm measure (0: none)")
    ap.add_argument("--categories", type=int, default=5, help="categories of the rhythm measure")
    a = ap.parse_args()

    config = parse_config('site: {url: "https://lefil.example.org/", title: "Le Fil", '
                          'postal_address: "Le Fil, 1 rue de l\'Exemple, 75001 Paris"}',
                          "bench", ROOT, {})
    plan = plan_issue(articles(a.articles, config), None, 42, NOW, config)
    render_issue(plan, config)  # warm the template and Babel caches

    t = time.perf_counter()
    rendered = render_issue(plan, config)
    render_s = time.perf_counter() - t

    runs = 50  # one MJML compile alone, on this issue's MJML
    t = time.perf_counter()
    for _ in range(runs):
        compile_mjml(rendered.mjml, config.newsletter.mjml_template)
    mjml_ms = (time.perf_counter() - t) / runs * 1000

    t = time.perf_counter()
    compiled = compile_issue(rendered, config)
    compile_ms = (time.perf_counter() - t) * 1000

    sample = list(recipients(a.naive, config.site.url))
    t = time.perf_counter()
    for r in sample:
        naive_size = len(naive_message(rendered, config, r))
    naive_rate = a.naive / (time.perf_counter() - t)

    checks = []
    rss_early = None
    total_bytes = 0
    t = time.perf_counter()
    for i, (r, data) in enumerate(compiled.messages(recipients(a.subscribers, config.site.url))):
        total_bytes += len(data)
        if i % 10_000 == 0:
            checks.append((r, data))
        if i == 1000:
            rss_early = rss_mb()
    splice_s = time.perf_counter() - t
    rss_end = rss_mb()
    rate = a.subscribers / splice_s

    for r, data in checks:  # outside the timing: each sampled message parses back exactly
        msg = BytesParser(policy=policy.default).parsebytes(data)
        html, text = rendered.personal(r.name, r.unsubscribe_url, r.preferences_url)
        parts = msg.get_payload()
        assert not msg.defects and msg["To"] and msg["Message-ID"]
        assert parts[0].get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")
        assert parts[1].get_content().replace("\r\n", "\n") == html.replace("\r\n", "\n")

    print(f"issue: {len(plan.articles)} articles, HTML {len(rendered.html.encode()) / 1024:.1f} KB, "
          f"message {total_bytes / a.subscribers / 1024:.1f} KB")
    print(f"render (Jinja2 + MJML, once per issue): {render_s * 1000:.1f} ms")
    print(f"one MJML compile:                       {mjml_ms:.2f} ms")
    print(f"MIME skeleton (once per issue):         {compile_ms:.1f} ms")
    print(f"naive, fresh EmailMessage per recipient: {naive_rate:,.0f} messages/s "
          f"({1000 / naive_rate:.2f} ms each, {naive_size / 1024:.1f} KB, {a.naive} recipients)")
    print(f"splice, {a.subscribers:,} recipients:        {rate:,.0f} messages/s "
          f"({1e6 / rate:.1f} µs each, {splice_s:.1f} s total, {rate / naive_rate:.0f}x naive)")
    early = f"{rss_early:.1f} MB after 1,000 messages, " if rss_early is not None else ""
    print(f"resident memory: {early}{rss_end:.1f} MB after "
          f"{a.subscribers:,}; {len(checks)} sampled messages parsed back and checked")
    if a.rhythms:
        count, audiences, seconds = rhythm_run(a)
        print(f"rhythms, {a.rhythms} x {a.categories} categories, {a.subscribers:,} subscribers: "
              f"{count / seconds:,.0f} messages/s ({count:,} messages, {audiences} audiences, "
              f"{seconds:.1f} s with the due shares; the splice above: {rate:,.0f}/s)")


class _Ledger:
    """What `due_shares` asks the store: a seventh already had the two newest articles."""

    def __init__(self, newest: list[str]):
        self.newest = set(newest)

    def received_articles(self, since, ids):
        return {i: self.newest for i in ids if i % 7 == 0}


def rhythm_run(a) -> tuple[int, int, float]:
    from publisher.audience.tokens import Tokens
    from publisher.models import Delivery, Subscriber
    from publisher.newsletter.campaign import IssueComposer
    from publisher.newsletter.issue import IssuePlan, issue_config
    from publisher.newsletter.rhythms import due_shares

    crons = ["on-publish", '"0 7 * * *"', '"0 8 * * mon"', '"0 8 1 * *"', '"0 9 * * *"',
             '"0 10 * * *"']
    names = ["instant", "daily", "weekly", "monthly", "noon", "evening"][:a.rhythms]
    config = parse_config('site: {url: "https://lefil.example.org/", title: "Le Fil", '
                          'postal_address: "Le Fil, 1 rue de l\'Exemple, 75001 Paris"}\n'
                          "newsletter:\n  rhythms:\n" + "".join(
                              f"    {n}: {c}\n" for n, c in zip(names, crons)),
                          "bench", ROOT, {})
    cats = CATEGORIES[:a.categories]
    pool = [replace_category(x, cats[i % len(cats)]) for i, x in
            enumerate(articles(a.articles, config))]
    by_id = {x.id: x for x in pool}
    tokens = Tokens("bench-secret-0123456789abcdefghijklmnopqrstuvwxyz")
    people = [Subscriber(i, f"lecteur{i}@example.org", FIRST_NAMES[i % len(FIRST_NAMES)],
                         "active", (cats[k],) if (k := i // len(names) % (len(cats) + 1)) < len(cats)
                         else (), NOW - timedelta(days=30), rhythm=names[i % len(names)])
              for i in range(a.subscribers)]
    ledger = _Ledger([x.id for x in pool[:2]])
    count, audiences = 0, 0
    t = time.perf_counter()
    for name in names:
        members = [p for p in people if p.rhythm == name]
        shares = due_shares(config, ledger, members, pool, NOW)
        due = sorted({i for share in shares.values() for i in share},
                     key=lambda i: by_id[i].date, reverse=True)
        instant = config.newsletter.rhythms[name] == "on-publish"
        cfg = issue_config(config, name)
        for group in ([[i] for i in due] if instant else [due]):
            plan = IssuePlan(number=1, now=NOW, since=NOW, articles=tuple(by_id[i] for i in group),
                             rhythm=name)
            composer = IssueComposer(plan, cfg, tokens)
            inside = set(group)
            for p in members:
                mine = tuple(i for i in shares.get(p.id, ()) if i in inside)
                if not mine:
                    continue
                d = Delivery(p.id, 1, p.id, p.email, p.name, p.categories, "claimed",
                             articles=() if mine == tuple(group) else mine)
                count += bool(bytes(composer(d)))
            audiences += len(composer.audiences)
    return count, audiences, time.perf_counter() - t


def replace_category(article: Article, category: str) -> Article:
    from dataclasses import replace

    return replace(article, categories=(category,))


if __name__ == "__main__":
    main()
