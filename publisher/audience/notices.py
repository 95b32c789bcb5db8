"""The transactional emails: confirmation (double opt-in) and welcome, from templates/email/."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import jinja2

from publisher import i18n
from publisher.audience.tokens import Tokens
from publisher.mail.dkim import DkimSigner
from publisher.mail.message import compose, sender_address
from publisher.mail.message import list_headers as mailer_list_headers
from publisher.mail.transport import Transport
from publisher.models import Subscriber
from publisher.site.theme import template_folders


@lru_cache(maxsize=8)
def template_env(folder: str, strict: bool = True, language: str = "en") -> jinja2.Environment:
    """The user's templates first, then the ones shipped with publisher, with gettext in
    `language`. Pages (not strict) may test variables that a route leaves out."""
    loader = jinja2.FileSystemLoader([str(f) for f in template_folders(folder)])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env, language)
    return env


class Links:
    """Absolute URLs of the web endpoints, with signed tokens."""

    def __init__(self, config, tokens: Tokens):
        self.base, self.tokens = config.site.url, tokens

    def confirm(self, email: str, request: dict | None = None) -> str:
        token = self.tokens.make("confirm", email, expires=True, data=request)
        return f"{self.base}confirm?token={token}"

    def unsubscribe(self, email: str) -> str:
        return f"{self.base}unsubscribe?token={self.tokens.make('unsubscribe', email)}"

    def preferences(self, email: str) -> str:
        return f"{self.base}preferences?token={self.tokens.make('preferences', email)}"

    def issue(self, number: int) -> str:
        return f"{self.base}newsletter/{number}/"


def list_headers(config, links: Links, email: str) -> dict[str, str]:
    """List-Id, List-Unsubscribe and one-click for one person: the newsletter's own headers."""
    return mailer_list_headers(config, links.unsubscribe(email))


class Notices:
    def __init__(self, config, transport: Transport, tokens: Tokens):
        self.config, self.transport, self.links = config, transport, Links(config, tokens)
        self.env = template_env(str(config.path("templates")), language=config.site.lang)
        self.signer = DkimSigner.from_config(config)  # every mail the product sends is signed

    def _send(self, template: str, subscriber: Subscriber, headers: dict[str, str] | None,
              **context) -> bytes:
        ctx = {"site": self.config.site, "subscriber": subscriber, **context}
        subject = " ".join(self.env.get_template(f"email/{template}.subject.txt").render(ctx).split())
        text = self.env.get_template(f"email/{template}.txt").render(ctx)
        html = self.env.get_template(f"email/{template}.html").render(ctx)
        data = compose(self.config, subscriber.email, subject, text, html, name=subscriber.name,
                       headers=headers, now=datetime.now(timezone.utc))
        if self.signer is not None:
            data = self.signer.sign(data)
        conn = self.transport.connect()
        try:
            conn.send(sender_address(self.config), subscriber.email, data)
        finally:
            conn.close()
        return data

    def confirmation(self, subscriber: Subscriber, request: dict | None = None) -> None:
        """The double opt-in email: a link that confirms, valid web.confirm_hours. `request`
        (the web form's name and categories) rides in the link, applied when it is followed."""
        self._send("confirm", subscriber, None,
                   confirm_url=self.links.confirm(subscriber.email, request),
                   hours=self.config.web.confirm_hours)

    def welcome(self, subscriber: Subscriber, latest_issue: int | None) -> None:
        """After confirmation: a welcome with the latest issue's link, and the way out."""
        email = subscriber.email
        self._send(
            "welcome", subscriber, list_headers(self.config, self.links, email),
            issue_url=self.links.issue(latest_issue) if latest_issue else None,
            archive_url=f"{self.config.site.url}newsletter/",
            unsubscribe_url=self.links.unsubscribe(email),
            preferences_url=self.links.preferences(email),
        )
