"""`publisher newsletter preview [--open]`: render the next issue to var/preview/."""

from __future__ import annotations

import importlib

import click

from publisher.cli import pass_context

# name -> "module:attribute"; `send` belongs to the delivery side (issue 5) and goes here.
SUBCOMMANDS: dict[str, str] = {"send": "publisher.cli.send:send"}


class _Lazy(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in SUBCOMMANDS:
            module, attr = SUBCOMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=_Lazy)
def newsletter() -> None:
    """Render, preview and send the newsletter digest."""


@newsletter.command()
@click.option("--open", "open_browser", is_flag=True, help="Also open the HTML in the default browser.")
@click.option("--rhythm", metavar="NAME", help="The next issue of this rhythm (newsletter.rhythms).")
@pass_context
def preview(ctx, open_browser: bool, rhythm: str | None) -> None:
    """Render the next issue; print the paths of its .html and .txt."""
    from datetime import datetime

    from publisher.content import load_articles
    from publisher.newsletter.campaign import nothing_new
    from publisher.newsletter.issue import issue_config, plan_issue, render_issue

    config = ctx.config
    now = datetime.now(config.site.tz)
    from publisher.newsletter.archive import issue_history

    if rhythm:
        from publisher.newsletter.rhythms import rhythm_preview

        plan = rhythm_preview(config, rhythm, load_articles(config).published(now), now)
        if plan is None:
            click.echo(f"nothing new for the {rhythm} rhythm: there is no issue to send")
            return
        number, name = plan.number, f"{rhythm}-{plan.number}"
        config = issue_config(config, rhythm)
    else:
        last, sent = issue_history(config)
        number = last.number + 1 if last else 1
        name = str(number)
        plan = plan_issue(load_articles(config).published(now), last.created if last else None,
                          number, now, config, sent=sent)
        if plan is None:
            click.echo(f"{nothing_new(config, last)}: there is no issue to send")
            return
    rendered = render_issue(plan, config)
    html, text = rendered.personal("", config.site.url + "unsubscribe", config.site.url + "preferences")
    folder = config.path("var") / "preview"
    folder.mkdir(parents=True, exist_ok=True)
    html_path, text_path = folder / f"issue-{name}.html", folder / f"issue-{name}.txt"
    html_path.write_text(html, encoding="utf-8")
    text_path.write_text(text, encoding="utf-8")
    what = f"{rhythm} issue" if rhythm else "issue"
    click.echo(f"{what} {number}: {rendered.subject!r}, {len(plan.articles)} articles")
    size = len(html.encode())
    if size > config.mail.max_html_bytes:
        click.secho(f"warning: the HTML is {size // 1024} KB; Gmail clips messages over "
                    f"{config.mail.max_html_bytes // 1024} KB", fg="yellow", err=True)
    click.echo(str(html_path))
    click.echo(str(text_path))
    if open_browser:
        import webbrowser

        webbrowser.open(html_path.as_uri())
