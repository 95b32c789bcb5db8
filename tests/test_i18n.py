"""Catalogs: every .po of a language merged, compiled in memory, the identity for English."""

from __future__ import annotations

import jinja2

from publisher import i18n


def write_po(folder, domain, pairs):
    folder.mkdir(parents=True, exist_ok=True)
    body = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    body += "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in pairs.items())
    (folder / f"{domain}.po").write_text(body, encoding="utf-8")


def test_every_po_file_of_a_language_is_merged_and_the_later_folder_wins(tmp_path):
    write_po(tmp_path / "xx" / "LC_MESSAGES", "site", {"Subscribe": "Abonnix", "Home": "Domus"})
    write_po(tmp_path / "xx" / "LC_MESSAGES", "admin", {"Log in": "Intrare"})
    own = tmp_path / "own"
    write_po(own / "xx" / "LC_MESSAGES", "site", {"Home": "Casa"})
    t = i18n.translations("xx-YY", (str(tmp_path), str(own)))
    assert t.gettext("Subscribe") == "Abonnix"
    assert t.gettext("Log in") == "Intrare"
    assert t.gettext("Home") == "Casa"
    assert t.gettext("Untranslated") == "Untranslated"


def test_english_is_the_identity_and_jinja_gets_new_style_gettext():
    assert i18n.gettext_for("en")("Subscribe") == "Subscribe"
    env = jinja2.Environment(autoescape=True)
    i18n.install(env, "en")
    html = env.from_string('{{ _("%(n)s articles from %(who)s", n=3, who=who) }}').render(who="<b>")
    assert html == "3 articles from &lt;b&gt;"
