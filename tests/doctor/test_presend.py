"""The scheduled send runs the doctor first: a failure is an "error" run and nothing goes
out; `mail.doctor: false` turns the check off. Into the outbox, DNS is not asked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from doctor_fixtures import DOMAIN


def _runner(site, mail: str, body: str):
    from publisher.schedule.runner import Runner

    site.article("budget", body, date=datetime.now(timezone.utc) - timedelta(hours=1))
    config = site.write(mail, top="newsletter:\n  content: full\n")
    site.build(config, datetime.now(timezone.utc))
    runner = Runner(config)
    runner.store.add_subscriber(f"lea@{DOMAIN}", "", [], "active", datetime.now(timezone.utc))
    return runner


def _send(runner) -> str:
    return runner.record("newsletter", datetime.now(timezone.utc).replace(microsecond=0),
                         "test", runner._newsletter)


def test_a_scheduled_send_with_a_broken_link_is_refused(site):
    runner = _runner(site, "  transport: outbox\n", "Voir [ceci](https://lefil.test/perdu/).")
    try:
        assert _send(runner) == "error"
        assert not (site.root / "var" / "outbox").exists() or \
            not list((site.root / "var" / "outbox").glob("*.eml"))
        assert runner.store.last_issue() is None
    finally:
        runner.store.close()


def test_mail_doctor_false_lets_it_go(site):
    runner = _runner(site, "  transport: outbox\n  doctor: false\n",
                     "Voir [ceci](https://lefil.test/perdu/).")
    try:
        assert _send(runner) == "ok"
    finally:
        runner.store.close()


def test_a_sound_issue_into_the_outbox_needs_no_dns(site):
    sound = _runner(site, "  transport: outbox\n", "Un texte sans lien.")
    try:
        assert _send(sound) == "ok"  # reserved domain, outbox: DNS skipped, issue sound
    finally:
        sound.store.close()
