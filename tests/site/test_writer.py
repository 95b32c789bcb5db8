"""The build's files under faults: readers during a first build, a full disk, a read-only
output folder, a kill -9 of the parent of the workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from delivery_fixtures import write_articles

from publisher.cli import main
from publisher.site.build import build
from publisher.site.writer import write_if_changed

NOW = datetime.now(timezone.utc)


@pytest.mark.slow
def test_every_feed_seen_during_a_first_build_parses(tmp_path, load):
    from conftest import write_config

    write_articles(tmp_path / "content", NOW, count=200, categories=("Tech", "Art", "Eco"))
    for article in (tmp_path / "content").glob("*.md"):  # feeds of several MB, as in the issue
        article.write_text(article.read_text(encoding="utf-8") + "Long paragraph. " * 1500,
                           encoding="utf-8")
    config = load(write_config(tmp_path, "feeds:\n  limit: 200\nbuild:\n  workers: 2\n"))
    feeds = config.path("output") / "feeds"
    seen, broken, done = [0], [], threading.Event()

    def poll() -> None:
        while not done.is_set():
            for path in list(feeds.glob("*.xml")) if feeds.is_dir() else []:
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
                seen[0] += 1
                if feedparser.parse(data).bozo:
                    broken.append((path.name, len(data)))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        build(config, NOW)
    finally:
        done.set()
        reader.join()
    assert seen[0] > 0 and not broken, broken[:5]
    out = config.path("output")
    assert not [p for p in out.rglob(".*")], "a temporary file was left behind"


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a" / "b.xml"
    assert write_if_changed(target, b"<x/>")[0] is True
    assert write_if_changed(target, b"<x/>")[0] is False
    assert write_if_changed(target, b"<y/>")[0] is True and target.read_bytes() == b"<y/>"
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.xml"]


@contextmanager
def tmpfs(where: Path, options: str):
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _build(tmp_path, output: Path):
    from conftest import ROOT, write_config

    cfg = write_config(tmp_path, content=ROOT / "content")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        f'output: "{tmp_path / "public"}"', f'output: "{output}"'), encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(cfg), "build"], env={})


def test_a_full_disk_is_one_line_and_leaves_no_half_file(tmp_path):
    with tmpfs(tmp_path / "small", "size=64k") as disk:
        result = _build(tmp_path, disk / "public")
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        assert "No space left on device" in result.output and str(disk) in result.output
        assert not list(disk.rglob(".*")), "a temporary file was left behind"
        for feed in (disk / "public" / "feeds").glob("*.xml"):
            assert not feedparser.parse(feed.read_bytes()).bozo, feed


def test_a_read_only_output_folder_is_one_line(tmp_path):
    with tmpfs(tmp_path / "ro", "size=64k,ro") as disk:
        result = _build(tmp_path, disk / "public")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert result.output == f"error: {disk / 'public'}: Read-only file system\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_build_workers_end_with_their_parent(tmp_path):
    """A parent forks a worker the way the build does, then is killed -9: the worker goes too."""
    script = textwrap.dedent("""
        import os, sys, time
        from multiprocessing import get_context
        from publisher.site.workers import end_with_parent

        def work(parent):
            end_with_parent(parent)
            time.sleep(60)

        child = get_context("fork").Process(target=work, args=(os.getpid(),))
        child.start()
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    time.sleep(0.3)  # the worker has run end_with_parent
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the worker outlived its parent")
