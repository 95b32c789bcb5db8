"""The tool as a stranger installs it: a wheel built from the sources, installed in a fresh
venv outside the checkout, that starts a publication in English and in French, writes an
article, builds, previews the digest and serves on another port with links that follow."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
NB = "\u00a0"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("PUBLISHER_TEST_DATABASE") == "postgresql",
                       reason="no database choice in it: the SQLite run covers it"),
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a venv holding only the wheel; its dependencies come from the test venv
    (a .pth line), so nothing is downloaded but the build backend."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a clean copy: no stale build/ folder of the checkout in the wheel
    shutil.copytree(ROOT / "publisher", src / "publisher",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", str(src), "-w", str(tmp / "dist")], check=True,
                   capture_output=True)
    venv = tmp / "venv"
    # No pip of its own (ensurepip takes ~20 s): the test venv's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((tmp / "dist").glob("publisher-*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    where = subprocess.run([str(python), "-c", "import publisher; print(publisher.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp).stdout
    assert where.startswith(purelib), where  # the wheel's copy, not the checkout
    return venv / "bin"


def publisher(bin_: Path, cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    done = subprocess.run([str(bin_ / "publisher"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_english_publication_from_the_wheel(installed, tmp_path):
    publisher(installed, tmp_path, "init", "notes", "--language", "en", "--title", "Field Notes")
    site = tmp_path / "notes"
    path = publisher(installed, site, "new", "A second note", "--category", "Notes").strip()
    assert Path(path).is_file() and path.endswith("-a-second-note.md")
    assert "2 articles" in publisher(installed, site, "build")
    index = (site / "public" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in index and "Front page" in index and "À la une" not in index
    html, text = publisher(installed, site, "newsletter", "preview").split()[-2:]
    assert "Hello," in Path(text).read_text(encoding="utf-8") or \
        "Hello," in Path(html).read_text(encoding="utf-8")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    server = subprocess.Popen([str(installed / "publisher"), "serve", "--port", str(port)],
                              cwd=site, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/"
        for _ in range(300):
            try:
                home = httpx.get(base, timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert f'href="{base}static/style.css"' in home.text and "127.0.0.1:8000" not in home.text
        subscribe = httpx.get(base + "subscribe", timeout=5).text
        assert ">Subscribe</button>" in subscribe and "Email address" in subscribe
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_french_publication_from_the_wheel(installed, tmp_path):
    publisher(installed, tmp_path, "init", "carnet", "--language", "fr", "--title", "Le Carnet")
    site = tmp_path / "carnet"
    publisher(installed, site, "new", "L'été : 8 000 visiteurs", "--date", "2024-06-01")
    publisher(installed, site, "build")
    page = next((site / "public" / "2024" / "06").rglob("index.html")).read_text(encoding="utf-8")
    assert f"L’été{NB}: 8{NB}000 visiteurs" in page and "1er juin 2024" in page
    assert "Recevoir la lettre par e-mail" in page
