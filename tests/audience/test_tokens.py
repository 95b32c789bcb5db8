"""The secret key: refused when too short, made whole before any other process can read it."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor

import pytest

from publisher.audience.tokens import TokenError, secret_key


def test_a_short_or_empty_key_file_is_refused_in_one_line(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    for text in ("", "short\n"):
        (var / "secret.key").write_text(text)
        with pytest.raises(TokenError) as caught:
            secret_key(var, env={})
        message = str(caught.value)
        assert "\n" not in message and "secret.key" in message and "at least 32" in message
        assert "PUBLISHER_SECRET_KEY" in message


def _key(var: str) -> str:
    from pathlib import Path

    return secret_key(Path(var), env={})


def test_racing_processes_all_get_the_same_whole_key(tmp_path):
    for round_ in range(5):
        var = tmp_path / f"var{round_}"
        with ProcessPoolExecutor(4) as pool:
            keys = set(pool.map(_key, [str(var)] * 8))
        assert len(keys) == 1 and len(keys.pop()) >= 32
        assert stat.S_IMODE(os.stat(var / "secret.key").st_mode) == 0o600
        assert [p.name for p in var.iterdir()] == ["secret.key"]  # no temporary file left
