"""Shared fixtures: a throwaway copy of the sample site, configured to build into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "content" / "000_449effa3a6371411.txt"


def write_config(folder: Path, extra: str = "", content: Path | None = None) -> Path:
    """A config.yaml in `folder` whose content, output and var live there too."""
    from delivery_fixtures import database_line

    content = content or folder / "content"
    cfg = folder / "config.yaml"
    if extra and not extra.endswith("\n"):
        extra += "\n"
    cfg.write_text(
        f"""site:
  url: "http://127.0.0.1:8000/"
  title: "Le Fil"
paths:
  content: "{content}"
  output: "{folder / 'public'}"
  templates: "{ROOT / 'templates'}"
  var: "{folder / 'var'}"
{extra}{database_line(folder)}""",
        encoding="utf-8",
    )
    return cfg


GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from what the code makes now (review the diff)")


@pytest.fixture
def golden(request):
    """compare(folder, {relative path: bytes}): the outputs must be the files under
    tests/golden/<folder>, byte for byte and no more, no fewer. With --update-golden the
    folder is written anew instead, and `git diff` shows what changed."""
    update = request.config.getoption("--update-golden")

    def compare(folder: str, outputs: dict[str, bytes]) -> None:
        root = GOLDEN / folder
        if update:
            shutil.rmtree(root, ignore_errors=True)
            for rel, data in outputs.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
            return
        expected = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        assert set(outputs) == expected, (
            f"outputs differ from tests/golden/{folder}: new {sorted(set(outputs) - expected)}, "
            f"gone {sorted(expected - set(outputs))} (pytest --update-golden, then review)")
        for rel in sorted(outputs):
            want = (root / rel).read_bytes()
            if outputs[rel] != want:
                import difflib

                diff = "\n".join(list(difflib.unified_diff(
                    want.decode(errors="replace").splitlines(),
                    outputs[rel].decode(errors="replace").splitlines(),
                    f"golden/{folder}/{rel}", "now", lineterm=""))[:40])
                pytest.fail(f"{rel} differs from its golden copy (pytest --update-golden if "
                            f"the change is meant, then review git diff):\n{diff}")

    return compare


@pytest.fixture
def site(tmp_path: Path):
    """(config path, content folder) holding a copy of the sample content."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    return write_config(tmp_path), content


@pytest.fixture
def load(tmp_path: Path):
    """Load a config file with an empty environment (no PUBLISHER_* leaking in)."""
    from publisher.config import load_config

    def _load(path: Path | None = None, env: dict | None = None):
        return load_config(path or tmp_path / "config.yaml", env=env or {})

    return _load


# Fixtures of the store, delivery and web tests (issue 5) live in their own module.
from delivery_fixtures import *  # noqa: E402,F403
