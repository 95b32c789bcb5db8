"""A spam score from SpamAssassin when it is installed, with local rules only (`-L`: no
network tests, so the score is reproducible and nothing leaves the machine)."""

from __future__ import annotations

import re
import shutil
import subprocess

from publisher.doctor.report import Check, failed, passed, skipped, warned

G = "spam"
STATUS = re.compile(rb"^X-Spam-Status: (\w+), score=(-?[\d.]+) required=([\d.]+)"
                    rb"(?:\s+tests=([^\n]*(?:\n[ \t]+[^\n]*)*))?", re.M)


def check_spam(message: bytes, timeout: float = 120.0) -> Check:
    binary = shutil.which("spamassassin")
    if binary is None:
        return skipped(G, "score", "SpamAssassin is not installed: no spam score "
                       "(apt-get install spamassassin)")
    try:
        done = subprocess.run([binary, "-L", "-t"], input=message, capture_output=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return warned(G, "score", f"spamassassin took over {timeout:.0f} s", "try again")
    m = STATUS.search(done.stdout)
    if m is None:
        line = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return warned(G, "score", f"spamassassin gave no score: {line[0]}",
                      "run `spamassassin -L -t < message.eml` to see why")
    score, required = float(m.group(2)), float(m.group(3))
    words = (m.group(4) or b"").decode().replace(",", " ").split()
    rules = ", ".join(w for w in words if "=" not in w) or "none"
    found = f"{score + 0.0:.1f} (spam from {required:.1f}); rules: {rules}"
    if score >= required:
        return failed(G, "score", found, "fix what the rules above point at")
    if score >= required / 2:
        return warned(G, "score", found, "look at the rules above")
    return passed(G, "score", found)
