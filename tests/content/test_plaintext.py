"""The seed's plain-text reader: structure of the seed, glue repair, and properties."""

from __future__ import annotations

from conftest import SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.content.plaintext import Block, blocks_to_text, read_plaintext, split_body

SEED_HEADINGS = [
    ("h2", "Une alliance stratégique aux enjeux géopolitiques majeurs"),
    ("h3", "Le soutien militaire de la Corée du Nord à la Russie"),
    ("h3", "Les enjeux géopolitiques de cette alliance"),
    ("h3", "Les réactions de la communauté internationale"),
    ("h3", "Les implications à long terme de cette alliance"),
]


def test_seed_reads_as_a_person_would_see_it():
    source = read_plaintext(SEED.read_text(encoding="utf-8"), SEED.name)
    assert source.title.startswith("L'alliance stratégique entre la Russie et la Corée du Nord")
    assert source.categories == ("Nouvelles",)
    assert source.date == "2024-11-02"
    assert source.lead.startswith("La Russie et la Corée du Nord, deux pays")
    assert source.lead.endswith("implications géopolitiques de cette alliance.")
    blocks = split_body(SEED.read_text(encoding="utf-8").splitlines()[3:])
    assert [(b.kind, b.text) for b in blocks if b.kind != "p"] == SEED_HEADINGS
    paragraphs = [b.text for b in blocks if b.kind == "p"]
    assert "ukrainien.En" not in source.html
    assert any(p.startswith("En plus de ces milliers de soldats") for p in paragraphs)
    assert any(p.endswith("en échange de technologies militaires.") for p in paragraphs)
    assert len(paragraphs) == 11


def test_glued_heading_at_end_of_paragraph_becomes_a_heading():
    blocks = split_body(["Il a parlé des technologies militaires.Les enjeux géopolitiques de cette alliance"])
    assert blocks == [
        Block("p", "Il a parlé des technologies militaires."),
        Block("h2", "Les enjeux géopolitiques de cette alliance"),
    ]


def test_glued_sentences_are_split_into_paragraphs():
    blocks = split_body(["Sur le front ukrainien.En plus de ces soldats, des obus."])
    assert [b.text for b in blocks] == ["Sur le front ukrainien.", "En plus de ces soldats, des obus."]
    assert {b.kind for b in blocks} == {"p"}


def test_decimals_times_initials_abbreviations_and_urls_stay_whole():
    for line in [
        "Le taux passe à 3.5 % à 10.30 h, selon J.R.R. Tolkien et U.S.Army.",
        "M.Dupont et Mme.Durand ont lu le rapport p.Douze en entier.",
        "Voir https://exemple.fr/A.B.Html et www.Exemple.Fr pour les détails.",
        "Écrire à contact@Exemple.Fr pour toute question sur ce sujet.",
    ]:
        assert split_body([line]) == [Block("p", line)]


def test_short_line_without_closing_punctuation_is_a_heading():
    assert split_body(["Le contexte"]) == [Block("h2", "Le contexte")]
    assert split_body(["Une phrase courte."]) == [Block("p", "Une phrase courte.")]


TOKENS = st.sampled_from(
    list("abcdeéèàçABCÉDEÀ .!?…,;:'«»\"0123456789-/@") + ["http://", "www.", "M.", "J.R."]
)
WORDS = st.lists(TOKENS, max_size=40).map("".join)
BODIES = st.lists(st.lists(WORDS, max_size=8).map(" ".join), max_size=8)


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_reader_never_crashes_and_never_loses_a_character(lines):
    blocks = split_body(lines)
    assert "".join("".join(lines).split()) == "".join("".join(b.text for b in blocks).split())


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_reader_is_idempotent_on_its_own_output(lines):
    blocks = split_body(lines)
    again = split_body(blocks_to_text(blocks).split("\n"))
    assert again == blocks


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_whole_file_never_crashes_except_with_a_content_error(text):
    from publisher.errors import ContentError

    try:
        read_plaintext(text, "random.txt")
    except ContentError as exc:
        assert str(exc).startswith("random.txt:")
