"""The spam score: SpamAssassin when installed, else one line saying how to get it."""

from __future__ import annotations

import shutil

import pytest

from publisher.doctor.spam import check_spam

MESSAGE = (b"From: Le Fil <news@lefil.test>\r\nTo: lea@lefil.test\r\nSubject: Le Fil n\xc2\xb01"
           b"\r\nDate: Mon, 25 Nov 2024 09:00:00 +0100\r\nMessage-ID: <1@lefil.test>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           b"Bonjour,\r\nvoici les articles de la semaine.\r\n")


def test_without_spamassassin_one_line_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no spamassassin on it
    check = check_spam(MESSAGE)
    assert check.status == "skip"
    assert "apt-get install spamassassin" in check.detail


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin not installed")
def test_spamassassin_scores_the_message():
    check = check_spam(MESSAGE)
    assert check.status in ("pass", "warn", "fail")
    assert "rules:" in check.detail
