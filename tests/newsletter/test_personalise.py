"""The per-recipient MIME splice: valid MIME, bodies equal to a direct render, safe headers."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from newsletter_fixtures import NOW, SINCE, make_config

from publisher.content import load_articles
from publisher.errors import DeliveryError
from publisher.newsletter.issue import plan_issue, render_issue
from publisher.newsletter.personalise import Audiences, Recipient, compile_issue

URL = "https://example.org/blog/"


@pytest.fixture(scope="module")
def config():
    return make_config(extra='mail:\n  unsubscribe_mailto: "desabo@example.org"\n'
                              '  bounce_source: inbox\n')


@pytest.fixture(scope="module")
def plan(config):
    return plan_issue(load_articles(config).published(NOW), SINCE, 7, NOW, config)


@pytest.fixture(scope="module")
def rendered(plan, config):
    return render_issue(plan, config)


@pytest.fixture(scope="module")
def compiled(rendered, config):
    return compile_issue(rendered, config)


def recipient(name="Zoë Dupont", email="zoe@example.org", token="t0k3n"):
    return Recipient(email, name, f"{URL}unsubscribe?token={token}&x=1", f"{URL}preferences?token={token}")


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


def check_message(data: bytes, r: Recipient, rendered) -> object:
    """Every line CRLF-ended and short, no defects, bodies equal to a direct render."""
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    head, body = data.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in body.split(b"\r\n")) <= 78  # QP lines: 76 + "=" spare
    msg = parse(data)
    assert not msg.defects and all(not p.defects for p in msg.walk())
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = msg.get_payload()
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    html, text = rendered.personal(r.name, r.unsubscribe_url, r.preferences_url)
    assert text_part.get_content().replace("\r\n", "\n") == text.replace("\r\n", "\n")
    assert html_part.get_content().replace("\r\n", "\n") == html.replace("\r\n", "\n")
    return msg


def test_message_is_valid_mime_with_personal_bodies(compiled, rendered):
    r = recipient()
    msg = check_message(compiled.message_bytes(r), r, rendered)
    assert msg["To"] == "Zoë Dupont <zoe@example.org>"
    assert msg["Subject"] == rendered.subject
    assert msg["List-Unsubscribe"] == f"<{r.unsubscribe_url}>, <mailto:desabo@example.org?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] == "Le Fil <newsletter.example.org>"
    assert msg["From"] == "Le Fil <newsletter@localhost>"
    assert msg["Date"].datetime == NOW
    html = msg.get_payload()[1].get_content()
    assert "Bonjour Zoë Dupont," in html and "token=t0k3n&amp;x=1" in html
    assert "PUBLISHER" not in html


def test_matches_a_direct_compile_for_that_recipient(compiled, rendered, config):
    """The splice gives what compiling MJML for this one person would give."""
    from publisher.newsletter.issue import _render_bodies

    r = recipient(name="A & <B>")
    html, text = rendered.personal(r.name, r.unsubscribe_url, r.preferences_url)
    assert "A &amp; &lt;B&gt;" in html
    tokens = rendered.tokens
    _, direct_html, direct_text = _render_bodies(rendered.plan, config, rendered.subject, rendered.preheader, web=False, tokens=tokens)
    assert direct_html == rendered.html and direct_text == rendered.text


def test_each_recipient_gets_a_unique_message_id(compiled):
    ids = {parse(compiled.message_bytes(recipient(email=f"u{i}@example.org")))["Message-ID"] for i in range(20)}
    assert len(ids) == 20
    given_id = Recipient("a@example.org", message_id="<d-1@example.org>")
    assert parse(compiled.message_bytes(given_id))["Message-ID"] == "<d-1@example.org>"


def test_no_header_injection_from_a_name(compiled, rendered):
    r = recipient(name="Eve\r\nBcc: victim@example.org\r\n\r\nbody")
    data = compiled.message_bytes(r)
    msg = check_message(data, Recipient(r.email, "Eve Bcc: victim@example.org body", r.unsubscribe_url, r.preferences_url), rendered)
    assert msg["Bcc"] is None
    assert getaddresses([msg["To"]]) == [("Eve Bcc: victim@example.org body", "zoe@example.org")]


@pytest.mark.parametrize(
    "bad",
    [
        Recipient("a@example.org\r\nBcc: b@example.org"),
        Recipient("not an address"),
        Recipient("a@example.org", unsubscribe_url="https://e/u\r\nX: y"),
        Recipient("a@example.org", unsubscribe_url="https://e/u> <https://evil"),
        Recipient("a@example.org", message_id="<a@b>\r\nX: y"),
    ],
)
def test_bad_addresses_and_urls_are_refused(compiled, bad):
    with pytest.raises(DeliveryError) as err:
        compiled.message_bytes(bad)
    assert err.value.permanent


def test_long_non_ascii_name_is_rfc2047_encoded_and_folded(compiled, rendered):
    name = "Zoë-Éléonore " * 12
    data = compiled.message_bytes(recipient(name=name))
    to_header = data.split(b"\r\nMessage-ID:")[0].split(b"To: ")[1]
    assert to_header.isascii() and b"=?utf-8?" in to_header
    assert all(len(line) <= 78 for line in to_header.split(b"\r\n"))
    # RFC 2047 decoding (whitespace between encoded words is dropped); the stdlib's address
    # parser inserts a space where a long word is split, a known quirk of its own.
    from email.header import decode_header, make_header

    raw = to_header.decode().rsplit(" <", 1)[0].replace("\r\n", "")
    assert str(make_header(decode_header(raw))) == name.strip()


def test_no_name_and_no_https_unsubscribe(compiled, rendered):
    r = Recipient("plain@example.org", "", "http://localhost/unsubscribe?token=1", "http://localhost/p")
    msg = check_message(compiled.message_bytes(r), r, rendered)
    assert msg["To"] == "plain@example.org"
    # sent with an http URL too: providers honour the one-click only for https, harmless else
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bonjour," in msg.get_payload()[0].get_content()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=120),
    token=st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.=%", min_size=1, max_size=300),
)
def test_any_name_and_token_splice_into_valid_mime(compiled, rendered, name, token):
    r = recipient(name=name, token=token)
    data = compiled.message_bytes(r)
    clean = Recipient(r.email, " ".join(__import__("re").sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", " ", name).split()), r.unsubscribe_url, r.preferences_url)
    check_message(data, clean, rendered)


def test_messages_stream_one_at_a_time(compiled):
    import types

    stream = compiled.messages(recipient(email=f"u{i}@example.org") for i in range(3))
    assert isinstance(stream, types.GeneratorType)
    assert [r.email for r, _ in stream] == ["u0@example.org", "u1@example.org", "u2@example.org"]


def test_audiences_compile_once_per_distinct_article_set(plan, config):
    audiences = Audiences(plan, config)
    category = plan.articles[0].category
    everyone = audiences.compiled(())
    assert audiences.compiled(None) is everyone
    one = audiences.compiled([category])
    assert audiences.compiled([category, "No such category"]) is one
    assert audiences.compiled(["No such category"]) is None
    assert len(audiences) == (1 if one is everyone else 2)
    body = parse(one.message_bytes(recipient())).get_payload()[1].get_content()
    others = [a for a in plan.articles if category not in a.categories]
    assert all(a.url not in body for a in others)
