"""`publisher newsletter send [--dry-run] [--to ADDRESS] [--force]`."""

from __future__ import annotations

from datetime import datetime

import click

from publisher.cli import pass_context


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be sent; change nothing.")
@click.option("--to", "to", metavar="ADDRESS", help="Send a test copy to ADDRESS only (the ledger is untouched).")
@click.option("--force", is_flag=True, help="Send even an issue whose HTML is over mail.max_html_bytes.")
@click.option("--queue-only", is_flag=True, help="Create and queue the issue; `publisher worker`s send it.")
@click.option("--skip-doctor", is_flag=True, help="Send even when a `publisher doctor` check fails.")
@click.option("--rhythm", metavar="NAME", help="The rhythm to send (newsletter.rhythms): its "
              "subscribers get what they have not received yet.")
@pass_context
def send(ctx, dry_run: bool, to: str | None, force: bool, queue_only: bool,
         skip_doctor: bool, rhythm: str | None) -> None:
    """Create the next issue (if anything is new), queue it for every subscriber, send it.

    Resumable: after a crash or a stop, run it again; nobody is lost or sent twice (except
    messages in flight at the crash). With --queue-only, `publisher worker` processes on any
    number of machines send it."""
    from rich.console import Console

    from publisher.audience.subscribers import normalise
    from publisher.audience.tokens import tokens_for
    from publisher.content import load_articles
    from publisher.mail.transport import make_transport
    from publisher.newsletter import campaign
    from publisher.store import open_store

    config = ctx.config
    console = Console(stderr=True)
    if rhythm or (config.newsletter.rhythms and not to):  # (--to: a test copy of the digest)
        _send_rhythm(ctx, rhythm, dry_run, to, force, queue_only, skip_doctor)
        return
    now = datetime.now(config.site.tz)
    articles = load_articles(config).published(now)
    store = open_store(config)
    transport, tokens = make_transport(config), tokens_for(config, store)
    if to:
        address = normalise(to)
        subject = campaign.send_test(config, store, transport, tokens, articles, address, now)
        click.echo(f"test copy of {subject!r} sent to {address} via {transport.name}")
        return
    if dry_run:
        _dry_run(config, store, articles, now)
        return
    if config.mail.doctor and not skip_doctor:
        from publisher.doctor import check_before_send

        check_before_send(config, now, articles, store)  # raises DoctorRefused: one line
    if queue_only:
        queued = campaign.queue_newsletter(config, store, articles, now, force=force)
        for issue, count in queued.queued:
            click.echo(f"issue {issue.number}: {issue.subject!r}, {count} queued")
        if queued.nothing_new:
            click.echo(f"{queued.nothing_new}: no new issue")
        return
    with _progress(console) as progress:
        outcome = campaign.send_newsletter(config, store, transport, tokens, articles, now,
                                           force=force, progress=progress, first_pass=True)
    for issue, report in outcome.reports:
        _summary(console, issue, report, transport.name)
    if outcome.nothing_new:
        click.echo(f"{outcome.nothing_new}: no new issue")


def _send_rhythm(ctx, rhythm: str | None, dry_run: bool, to: str | None, force: bool,
                 queue_only: bool, skip_doctor: bool) -> None:
    """`send --rhythm NAME`: the rhythm's new issue(s) to its subscribers."""
    from rich.console import Console

    from publisher.content import load_articles
    from publisher.mail.transport import make_transport
    from publisher.newsletter.rhythms import check_rhythm, members, preview_plan, send_rhythm
    from publisher.store import open_store

    config = ctx.config
    if not rhythm:
        raise click.UsageError("newsletter.rhythms is set: name the rhythm to send with "
                               f"--rhythm ({', '.join(config.newsletter.rhythms)})")
    if to:
        raise click.UsageError("--to sends a test copy of the digest: leave out --rhythm")
    check_rhythm(config, rhythm)
    now = datetime.now(config.site.tz)
    articles = load_articles(config).published(now)
    store = open_store(config)
    if dry_run:
        plan = preview_plan(config, store, rhythm, articles, now)
        if plan is None:
            click.echo(f"nothing new for the {rhythm} rhythm: no new issue")
        else:
            people = len(members(config, store, rhythm))
            click.echo(f"{rhythm} issue {plan.number}: {len(plan.articles)} articles, "
                       f"{people} subscribers follow this rhythm")
        return
    if config.mail.doctor and not skip_doctor:
        from publisher.doctor import check_before_send

        check_before_send(config, now, articles, store)  # raises DoctorRefused: one line
    if queue_only:
        outcome = send_rhythm(config, store, None, None, articles, now, rhythm, force=force,
                              send=False)
        for issue, count in outcome.queued:
            click.echo(f"{rhythm} issue {issue.number}: {issue.subject!r}, {count} queued")
    else:
        from publisher.audience.tokens import tokens_for

        transport = make_transport(config)
        with _progress(Console(stderr=True)) as progress:
            outcome = send_rhythm(config, store, transport, tokens_for(config, store), articles,
                                  now, rhythm, force=force, progress=progress, first_pass=True)
        for issue, report in outcome.reports:
            _summary(None, issue, report, transport.name)
    if outcome.nothing_new:
        click.echo(f"{outcome.nothing_new}: no new issue")


def _dry_run(config, store, articles, now) -> None:
    from publisher.newsletter.campaign import check_size, plan_next
    from publisher.newsletter.issue import render_issue

    for issue in store.unfinished_issues():
        counts = store.delivery_counts(issue.id)
        click.echo(f"issue {issue.number} would resume: {counts.get('queued', 0)} queued, "
                   f"{counts.get('claimed', 0)} claimed")
    plan, _ = plan_next(config, store, articles, now)
    if plan is None:
        click.echo("nothing new: no new issue")
        return
    rendered = render_issue(plan, config)
    check_size(rendered.html, config, force=True)
    people = sum(1 for s in store.list_subscribers("active") if plan.for_categories(s.categories))
    click.echo(f"issue {plan.number}: {rendered.subject!r}, {len(plan.articles)} articles, "
               f"{len(rendered.html.encode()) // 1024} KB of HTML, to {people} subscribers")


class _progress:
    """A rich progress bar while sending (on a terminal)."""

    def __init__(self, console):
        self.console, self.bar, self.task = console, None, None

    def __enter__(self):
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self.bar = Progress("sending", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("sending", total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


def _summary(console, issue, report, transport: str) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    title = f"{issue.rhythm.capitalize()} issue" if issue.rhythm else "Issue"
    table = Table(title=f"{title} {issue.number}: {issue.subject}", title_justify="left")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("sent", str(report.sent))
    table.add_row("retried", str(report.retried))
    table.add_row("failed", str(len(report.failed)))
    if report.skipped:
        table.add_row("skipped (nothing for them)", str(report.skipped))
    out.print(table)
    for address, reason in report.failed[:50]:
        out.print(f"  failed {address}: {reason}", highlight=False, markup=False)
    if len(report.failed) > 50:
        out.print(f"  ... and {len(report.failed) - 50} more")
    out.print(f"{report.sent} sent via {transport} in {report.elapsed:.1f} s "
              f"({report.rate:.0f}/s)", highlight=False)
    if report.waiting:
        when = f", the next at {report.retry_at:%Y-%m-%d %H:%M:%S %Z}" if report.retry_at else ""
        out.print(f"{report.waiting} wait for a retry{when}: `publisher run` or `publisher "
                  "worker` sends them when due, or run this send again", highlight=False)
