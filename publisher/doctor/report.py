"""What the doctor found: one `Check` per question, a `Report` that prints as a table or JSON.

A failure is something that will cost deliveries or readers (a missing DMARC record, a link to
a page the build did not write); a warning is worth a look but does not stop a send."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red", SKIP: "dim"}


@dataclass(frozen=True)
class Check:
    group: str  # dns, issue, spam, site
    name: str  # short, stable: "spf", "dmarc", "links"
    status: str  # pass | warn | fail | skip
    detail: str  # what was found, one line
    fix: str = ""  # one line: what to do about a failure or a warning


def passed(group: str, name: str, detail: str) -> Check:
    return Check(group, name, PASS, detail)


def warned(group: str, name: str, detail: str, fix: str = "") -> Check:
    return Check(group, name, WARN, detail, fix)


def failed(group: str, name: str, detail: str, fix: str) -> Check:
    return Check(group, name, FAIL, detail, fix)


def skipped(group: str, name: str, detail: str) -> Check:
    return Check(group, name, SKIP, detail)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def extend(self, checks) -> None:
        self.checks.extend(checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failures

    def downgraded(self, group: str, why: str) -> "Report":
        """The same report with `group`'s failures as warnings (mail that reaches no real
        mailbox cannot be hurt by them)."""
        return Report([replace(c, status=WARN, detail=f"{c.detail} ({why})")
                       if c.group == group and c.status == FAIL else c for c in self.checks])

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, WARN: 0, FAIL: 0, SKIP: 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_json(self) -> str:
        return json.dumps({"ok": self.ok, "counts": self.counts(),
                           "checks": [asdict(c) for c in self.checks]},
                          indent=2, ensure_ascii=False)

    def summary(self) -> str:
        """One line: what failed, for a refused send."""
        names = ", ".join(f"{c.group}.{c.name}" for c in self.failures)
        return f"{len(self.failures)} check(s) failed: {names}" if names else "all checks passed"

    def print_table(self, console) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title="publisher doctor", title_justify="left")
        for column in ("check", "result", "found", "fix"):
            table.add_column(column, overflow="fold")
        for c in self.checks:
            table.add_row(f"{c.group}.{c.name}", Text(c.status, style=STYLE[c.status]),
                          Text(c.detail), Text(c.fix))
        console.print(table)
        n = self.counts()
        console.print(f"{n[PASS]} passed, {n[WARN]} warnings, {n[FAIL]} failed, "
                      f"{n[SKIP]} skipped", highlight=False)
