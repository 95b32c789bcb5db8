"""Each subscriber's own rhythm (issue 17), through the CLI against the outbox: every
article exactly once, whatever rhythm each subscriber had when it was published."""

from __future__ import annotations

import email
import time
from datetime import datetime, timedelta, timezone
from email.policy import default

from click.testing import CliRunner

from publisher.cli import main

RHYTHMS = """newsletter:
  rhythms:
    instant: on-publish
    daily: "0 7 * * *"
    weekly: "0 8 * * mon"
  default_rhythm: daily
"""


def cli(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def write_article(folder, name: str, title: str, when: datetime, category: str = "Tech"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.md").write_text(
        f"---\ntitle: \"{title}\"\ndate: {when.replace(microsecond=0).isoformat()}\n"
        f"category: {category}\nsummary: \"About {title}\"\n---\n\nBody of {title}.\n",
        encoding="utf-8")


class Outbox:
    """The mails written to var/outbox since the last look: [(recipient, subject, text)]."""

    def __init__(self, folder):
        self.folder, self.seen = folder, set()

    def new(self) -> list[tuple[str, str, str]]:
        found = []
        for path in sorted(self.folder.glob("*.eml")) if self.folder.exists() else ():
            data = path.read_bytes()
            if (path.name, data) in self.seen:
                continue
            self.seen.add((path.name, data))
            msg = email.message_from_bytes(data, policy=default)
            text = msg.get_body(("plain",)).get_content()
            found.append((str(msg["To"]), str(msg["Subject"]), text))
        return sorted(found)


def titles(text: str, *candidates: str) -> set[str]:
    return {t for t in candidates if t in text}


def test_done_when_each_rhythm_gets_its_own_and_a_switch_neither_loses_nor_repeats(project):
    content = project.root / "content"
    project.write(f"paths:\n  content: {content}\nmail:\n  doctor: false\n" + RHYTHMS)
    write_article(content, "old", "Old story", datetime.now(timezone.utc) - timedelta(hours=2))
    cli("subscribers", "add", "dan@example.org", "--rhythm", "daily")
    cli("subscribers", "add", "wes@example.org", "--rhythm", "weekly")
    cli("subscribers", "add", "ina@example.org", "--rhythm", "instant")
    # published since they joined (an older article is not theirs: they did not get the archive)
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    write_article(content, "one", "First story", now)
    write_article(content, "two", "Second story", now, "Art")
    time.sleep(max(0.0, (now - datetime.now(timezone.utc)).total_seconds() + 0.05))
    box = Outbox(project.root / "var" / "outbox")
    both = {"First story", "Second story"}

    cli("newsletter", "send", "--rhythm", "daily")
    [(to, _, text)] = box.new()
    assert to == "dan@example.org" and titles(text, *both) == both and "Old story" not in text

    cli("newsletter", "send", "--rhythm", "weekly")
    [(to, _, text)] = box.new()
    assert to == "wes@example.org" and titles(text, *both) == both

    cli("newsletter", "send", "--rhythm", "instant")
    mails = box.new()
    assert [to for to, _, _ in mails] == ["ina@example.org"] * 2
    assert sorted(subject for _, subject, _ in mails) == ["First story", "Second story"]
    assert all(len(titles(text, *both)) == 1 for _, _, text in mails)
    assert all("Old story" not in text for _, _, text in mails)

    assert "dan@example.org: weekly" in cli("subscribers", "set", "dan@example.org",
                                            "--rhythm", "weekly")
    write_article(content, "three", "Third story", now)
    cli("newsletter", "send", "--rhythm", "weekly")
    mails = box.new()
    assert [to for to, _, _ in mails] == ["dan@example.org", "wes@example.org"]
    for _, subject, text in mails:
        assert subject == "Third story"
        assert titles(text, "First story", "Second story", "Third story") == {"Third story"}

    assert "nothing new for the daily rhythm" in cli("newsletter", "send", "--rhythm", "daily")
    cli("newsletter", "send", "--rhythm", "instant")
    [(to, subject, _)] = box.new()
    assert (to, subject) == ("ina@example.org", "Third story")
    assert box.new() == []

    from publisher.newsletter.archive import archive_outputs

    files = archive_outputs(project.config())  # each rhythm's issues, numbered per rhythm
    pages = {p for p in files if p.startswith("newsletter/") and p != "newsletter/index.html"}
    assert pages == {"newsletter/daily/1/index.html", "newsletter/weekly/1/index.html",
                     "newsletter/weekly/2/index.html", "newsletter/instant/1/index.html",
                     "newsletter/instant/2/index.html", "newsletter/instant/3/index.html"}
    index = files["newsletter/index.html"].decode()
    assert "weekly · " in index and "https://news.example.org/newsletter/weekly/2/" in index


def test_a_rhythm_queued_for_the_workers_goes_out_with_its_own_shares(project):
    content = project.root / "content"
    project.write(f"paths:\n  content: {content}\nmail:\n  doctor: false\n" + RHYTHMS)
    cli("subscribers", "add", "dan@example.org", "--rhythm", "daily")
    cli("subscribers", "add", "art@example.org", "--rhythm", "daily", "--category", "Art")
    cli("subscribers", "add", "ina@example.org", "--rhythm", "instant")
    now = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    write_article(content, "one", "First story", now)
    write_article(content, "two", "Second story", now, "Art")
    time.sleep(max(0.0, (now - datetime.now(timezone.utc)).total_seconds() + 0.05))
    shown = cli("newsletter", "preview", "--rhythm", "instant")  # its own template, in French
    assert "instant issue 1: 'First story', 1 articles" in shown
    text = (project.root / "var" / "preview" / "issue-instant-1.txt").read_text(encoding="utf-8")
    assert "Nouveau sur Example News" in text and "Second story" not in text
    assert "daily issue 1: 2 articles" in cli("newsletter", "send", "--rhythm", "daily",
                                              "--dry-run")
    out = cli("newsletter", "send", "--rhythm", "daily", "--queue-only")
    assert "daily issue 1: 'Second story + 1 autre', 2 queued" in out
    assert "instant issue 1: 'First story'" in cli("newsletter", "send", "--rhythm", "instant",
                                                    "--queue-only")
    box = Outbox(project.root / "var" / "outbox")
    assert box.new() == []
    cli("worker", "--drain")
    mails = box.new()
    assert [(to, subject) for to, subject, _ in mails] == [
        ("art@example.org", "Second story"), ("dan@example.org", "Second story + 1 autre"),
        ("ina@example.org", "First story"), ("ina@example.org", "Second story")]
    art = mails[0][2]
    assert "Second story" in art and "First story" not in art  # only the Art share


def test_one_send_at_a_time_reads_and_writes_the_ledger(project, monkeypatch):
    """Two rhythms' sends racing a switch could each read the ledger before the other wrote
    it: the second waits for the first's lease, and says so when it waits too long."""
    from publisher.newsletter import rhythms
    from publisher.store import open_store

    project.write(f"paths:\n  content: {project.root / 'content'}\nmail:\n  doctor: false\n"
                  + RHYTHMS)
    store = open_store(project.config())
    assert store.take_lease(rhythms.LEDGER_LEASE, "elsewhere:1", 60)
    monkeypatch.setattr(rhythms, "LEDGER_WAIT", 0.2)
    result = CliRunner().invoke(main, ["newsletter", "send", "--rhythm", "daily"])
    assert result.exit_code == 1 and "another send (elsewhere:1) is queueing" in result.output
    assert "Traceback" not in result.output
    store.drop_lease(rhythms.LEDGER_LEASE, "elsewhere:1")
    assert "nothing new for the daily rhythm" in cli("newsletter", "send", "--rhythm", "daily")
    assert store.lease_holder(rhythms.LEDGER_LEASE) is None  # given back after the send
    store.close()


def test_config_names_a_bad_rhythm_by_its_line(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text('newsletter:\n  rhythms:\n    daily: "0 7 * * *"\n    weekly: "0 8 * * xyz"\n'
                   "  default_rhythm: monthly\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "check"], env={})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "config.yaml:2: key 'newsletter.rhythms': rhythm 'weekly':" in result.output
    cfg.write_text('newsletter:\n  rhythms:\n    daily: "0 7 * * *"\n  default_rhythm: monthly\n',
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg), "check"], env={})
    assert "config.yaml:4: key 'newsletter.default_rhythm': 'monthly' is not one of " \
           "newsletter.rhythms (daily)" in result.output
