"""Accessibility checks on small HTML documents: each can fail, and says why."""

from __future__ import annotations

import pytest

from publisher.doctor.a11y import check_accessibility, color, ratio
from publisher.doctor.markup import parse

GOOD = """<!doctype html><html lang="fr"><body style="background-color:#ffffff">
<table role="presentation"><tr><td style="color:#333333">
<h1>Le Fil</h1><h2>Culture</h2><h3><a href="https://x.test/a/">Le musée rouvre</a></h3>
<img src="https://x.test/logo.png" alt="Le Fil">
<div style="display:none;color:#ffffff">preheader hidden</div>
</td></tr></table></body></html>"""


def statuses(html: str) -> dict[str, str]:
    return {c.name: c.status for c in check_accessibility(parse(html))}


def test_a_sound_mail_passes_every_check():
    assert set(statuses(GOOD).values()) == {"pass"}


@pytest.mark.parametrize("broken, name", [
    (GOOD.replace(' lang="fr"', ""), "lang"),
    (GOOD.replace(' alt="Le Fil"', ""), "alt"),
    (GOOD.replace(' role="presentation"', ""), "tables"),
    (GOOD.replace("<h2>Culture</h2>", ""), "headings"),
    (GOOD.replace("Le musée rouvre", "cliquez ici"), "link-text"),
    (GOOD.replace("color:#333333", "color:#999999"), "contrast"),
    (GOOD.replace("background-color:#ffffff", "background-color:#3a3a3a"), "contrast"),
])
def test_each_problem_is_named(broken, name):
    found = statuses(broken)
    assert found[name] == "fail"
    assert [n for n, s in found.items() if s == "fail"] == [name]


def test_contrast_ratio_matches_wcag():
    white, black = color("#fff"), color("black")
    assert ratio(black, white) == pytest.approx(21.0)
    assert ratio(color("#767676"), white) == pytest.approx(4.54, abs=0.01)  # the AA boundary
    assert ratio(color("rgb(119, 119, 119)"), white) < 4.5


def test_large_text_needs_only_three_to_one():
    html = GOOD.replace("<h1>Le Fil</h1>", '<h1 style="font-size:28px;color:#888888">Le Fil</h1>')
    assert statuses(html)["contrast"] == "pass"
    assert statuses(html.replace("font-size:28px", "font-size:14px"))["contrast"] == "fail"
