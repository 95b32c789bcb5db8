"""A subscriber's rhythm from the command line and in CSV import and export (issue 17)."""

from __future__ import annotations

import csv

from click.testing import CliRunner
from delivery_fixtures import RHYTHMS

from publisher.cli import main
from publisher.store import open_store


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_add_set_import_and_export_carry_the_rhythm(project, tmp_path):
    project.write(RHYTHMS)
    assert cli("subscribers", "add", "a@example.org", "--rhythm", "daily").exit_code == 0
    assert cli("subscribers", "add", "b@example.org").exit_code == 0
    bad = cli("subscribers", "add", "c@example.org", "--rhythm", "hourly")
    assert bad.exit_code != 0 and "no rhythm 'hourly' (there are: instant, daily, weekly)" in bad.output
    assert "Traceback" not in bad.output
    moved = cli("subscribers", "set", "b@example.org", "--rhythm", "instant")
    assert moved.exit_code == 0 and "b@example.org: instant" in moved.output
    assert cli("subscribers", "set", "nobody@example.org", "--rhythm", "daily").exit_code != 0
    listed = cli("subscribers", "list").output
    assert "a@example.org\tactive\t*\tdaily" in listed and "b@example.org\tactive\t*\tinstant" in listed

    source = tmp_path / "in.csv"
    source.write_text("email,name,categories,rhythm\nd@example.org,D,,daily\n"
                      "e@example.org,E,,\nf@example.org,F,,yearly\n", encoding="utf-8")
    result = cli("subscribers", "import", str(source))
    assert result.exit_code == 0 and "3 imported" in result.output
    assert "in.csv:4: no rhythm 'yearly' in newsletter.rhythms" in result.output
    store = open_store(project.config())
    assert [store.get_subscriber(f"{x}@example.org").rhythm for x in "def"] == ["daily", "", ""]
    store.close()

    out = tmp_path / "out.csv"
    assert cli("subscribers", "export", str(out)).exit_code == 0
    rows = {r["email"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["a@example.org"]["rhythm"] == "daily" and rows["e@example.org"]["rhythm"] == ""


def test_without_rhythms_the_option_says_what_to_set(project):
    result = cli("subscribers", "add", "a@example.org", "--rhythm", "daily")
    assert result.exit_code != 0 and "newsletter.rhythms is not set" in result.output
    sent = cli("newsletter", "send", "--rhythm", "daily")
    assert sent.exit_code != 0 and "newsletter.rhythms is not set" in sent.output


def test_those_who_chose_none_get_the_first_digest_not_a_mail_per_article(project):
    project.write(RHYTHMS.replace("  default_rhythm: weekly\n", ""))
    assert cli("subscribers", "add", "old@example.org").exit_code == 0  # as if from before
    assert "old@example.org\tactive\t*\tdaily" in cli("subscribers", "list").output
