"""Typography by language: French spaces and quotes, English curly quotes, never in code,
URLs or attributes; dates with the French '1er'; slugs that end on a whole word."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from publisher.content.article import make_slug
from publisher.content.dates import long_date
from publisher.content.typography import typeset_html, typeset_text

NB, NNB = "\u00a0", "\u202f"


def test_french_title_gets_apostrophe_and_no_break_spaces():
    assert typeset_text("L'été : 8 000 visiteurs", "fr") == f"L’été{NB}: 8{NB}000 visiteurs"
    assert typeset_text('Il dit "oui" ; vraiment ? Non ! 5 %', "fr-CA") == \
        f"Il dit «{NB}oui{NB}»{NNB}; vraiment{NNB}? Non{NNB}! 5{NB}%"
    assert typeset_text("« déjà »", "fr") == f"«{NB}déjà{NB}»"
    assert typeset_text("en 2024 et 12 345 678", "fr") == f"en 2024 et 12{NB}345{NB}678"


def test_english_gets_curly_quotes_and_other_languages_are_left_alone():
    assert typeset_text("He said \"it's 'fine'\"", "en") == "He said “it’s ‘fine’”"
    assert typeset_text("L'été : oui", "de") == "L'été : oui"


def test_html_text_only_never_code_urls_or_attributes():
    html = ('<p>L\'été : <a href="http://x.org/?a=1&amp;b=\'2\'" title="a : b">lien</a> '
            '<code>a \'b\' : c</code> &quot;x&quot; a &amp; b</p><pre><code>x : y ?</code></pre>'
            '<p>fin ?</p>')
    out = typeset_html(html, "fr")
    assert out == (f'<p>L’été{NB}: <a href="http://x.org/?a=1&amp;b=\'2\'" title="a : b">lien</a> '
                   f'<code>a \'b\' : c</code> «{NB}x{NB}» a &amp; b</p><pre><code>x : y ?</code></pre>'
                   f'<p>fin{NNB}?</p>')


@given(st.text(alphabet="ab <>&'\":;?!«»0123456789", max_size=60))
def test_tags_are_never_touched(text):
    html = f'<a href="http://h/?q=1 :2" title="{text.replace(chr(34), "")}">x</a>'
    assert typeset_html(html, "fr").startswith('<a href="http://h/?q=1 :2"')


def test_long_dates_by_language_with_the_french_first():
    assert long_date(date(2024, 6, 1), "fr") == "1er juin 2024"
    assert long_date(date(2024, 6, 2), "fr") == "2 juin 2024"
    assert long_date(date(2024, 6, 1), "en") == "June 1, 2024"


def test_a_long_slug_does_not_end_on_an_elided_word():
    title = "L'alliance stratégique entre la Russie et la Corée du Nord : une menace pour l'ordre mondial"
    assert make_slug(title).endswith("-une-menace-pour")
    assert make_slug("Vitamine D") == "vitamine-d"


def _chunk_by_chunk(html: str, lang: str) -> str:
    """The rules run over each text chunk on its own: what typeset_html did before it ran them
    once over all of a page's text (issue 20). The two must agree on every input."""
    from html import escape, unescape

    from publisher.content.typography import TAG, VERBATIM, _rule

    rule, out, verbatim, pos = _rule(lang), [], 0, 0

    def text(chunk: str) -> str:
        if verbatim or not chunk or chunk.isspace():
            return chunk
        return escape(rule(unescape(chunk)), quote=False)

    for m in TAG.finditer(html):
        out.append(text(html[pos:m.start()]))
        name = (m[2] or "").lower()
        if name in VERBATIM:
            verbatim = max(0, verbatim + (-1 if m[1] else 1))
        out.append(m[0])
        pos = m.end()
    out.append(text(html[pos:]))
    return "".join(out)


PIECES = st.sampled_from([
    "<p>", "</p>", "<em>", "</em>", "<code>", "</code>", "<pre>", "</pre>", '<a href="x?a=1&amp;b">',
    "</a>", "<br />", "<!-- c -->", "'", '"', "&quot;", "&amp;", "&lt;", "«", "»", " ", "\u00a0",
    ";", "!", "?", ":", "%", "8", "000", " 000", "12 345", "l", "été", "word", ".", "\n", "\x1f",
])


@given(st.lists(PIECES, max_size=40), st.sampled_from(["fr", "en"]))
def test_one_pass_over_the_text_equals_chunk_by_chunk(pieces, lang):
    html = "".join(pieces)
    assert typeset_html(html, lang) == _chunk_by_chunk(html, lang)
