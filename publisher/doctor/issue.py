"""The next issue, rendered as `publisher newsletter preview` renders it, and what a reader
would meet in it: links that lead nowhere, HTML Gmail clips, a text part missing articles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from publisher.doctor.links import absolute, fetch_errors, internal_path, written
from publisher.doctor.markup import Node, links, parse
from publisher.doctor.report import Check, failed, passed, skipped, warned

G = "issue"


@dataclass(frozen=True)
class NextIssue:
    plan: object  # newsletter.issue.IssuePlan
    subject: str
    html: str  # personalised for a sample reader
    text: str
    message: bytes  # the whole MIME message, signed when mail.dkim_key is set
    tree: Node


def history(config):
    """(last stored issue, ids earlier issues carried), never creating a database."""
    from publisher.newsletter.archive import issue_history

    return issue_history(config)


def next_issue(config, articles, now: datetime, last=None, sent=frozenset()) -> NextIssue | None:
    """The next issue for a sample reader, or None when nothing is new."""
    from publisher.mail.message import sender_address
    from publisher.newsletter.issue import plan_issue, render_issue
    from publisher.newsletter.personalise import Recipient, compile_issue

    plan = plan_issue(articles, last.created if last else None,
                      last.number + 1 if last else 1, now, config, sent=sent)
    if plan is None:
        return None
    rendered = render_issue(plan, config)
    unsubscribe = config.site.url + "unsubscribe?token=doctor"
    preferences = config.site.url + "preferences?token=doctor"
    html, text = rendered.personal("Reader", unsubscribe, preferences)
    reader = "reader@" + sender_address(config).rpartition("@")[2]
    message = compile_issue(rendered, config, now).message_bytes(Recipient(
        email=reader, name="Reader", unsubscribe_url=unsubscribe, preferences_url=preferences))
    return NextIssue(plan, rendered.subject, html, text, message, parse(html))


def check_links(config, issue: NextIssue, online: bool) -> list[Check]:
    """Internal links must be files the build wrote; the issue's own archive page is written
    by the build after the send, so it is not asked for."""
    output = config.path("output")
    base = config.site.url
    own = {f"newsletter/{issue.plan.number}/", "newsletter/"}
    if not (output / "index.html").is_file():
        return [warned(G, "links", f"{output} holds no built site: internal links not checked",
                       "run `publisher build` first")]
    broken, external = [], []
    for _, href in links(issue.tree):
        url = absolute(href, base)
        if url is None:
            continue
        path = internal_path(url, base)
        if path is None:
            external.append(url)
        elif path not in own and not written(output, path):
            broken.append(url)
    out = []
    if broken:
        shown = ", ".join(dict.fromkeys(broken))
        out.append(failed(G, "links", f"links to pages the build did not write: {shown}",
                          "run `publisher build`, or fix the article or template linking there"))
    else:
        out.append(passed(G, "links", "every internal link leads to a built page"))
    if not online:
        out.append(skipped(G, "external-links", f"{len(set(external))} external links not "
                           "checked (use --online)"))
    else:
        errors = fetch_errors(external)
        if errors:
            shown = "; ".join(f"{u} ({why})" for u, why in list(errors.items())[:5])
            out.append(failed(G, "external-links", f"{len(errors)} broken: {shown}",
                              "fix or remove these links in the articles"))
        else:
            out.append(passed(G, "external-links", f"{len(set(external))} external links answer"))
    return out


def check_size(config, issue: NextIssue) -> Check:
    size, limit = len(issue.html.encode()), 102 * 1024
    shown = f"{size / 1024:.0f} KB of HTML"
    if size > limit:
        return failed(G, "size", f"{shown}: Gmail clips messages over 102 KB",
                      "fewer articles (newsletter.max_articles) or newsletter.content: summary")
    if size > limit * 0.8:
        return warned(G, "size", f"{shown}, close to Gmail's 102 KB clipping",
                      "keep an eye on newsletter.max_articles")
    return passed(G, "size", f"{shown} (Gmail clips over 102 KB)")


def check_text_part(issue: NextIssue) -> Check:
    missing = [a.url for a in issue.plan.articles if a.url not in issue.text]
    if missing:
        return failed(G, "text-part", f"the text part lacks {len(missing)} article link(s): "
                      f"{', '.join(missing[:3])}",
                      "print {{ article.url }} for every article in newsletter.txt.j2")
    return passed(G, "text-part", f"the text part carries all {len(issue.plan.articles)} "
                  "article links")
