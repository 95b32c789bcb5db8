"""Faults an operator meets are one line naming the path or key, a non-zero exit, no secret."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner

from publisher.cli import main


def run(tmp_path, config: str, *args: str):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config, encoding="utf-8")
    return CliRunner().invoke(main, ["--config", str(cfg), *args], env={})


def test_a_config_error_never_prints_the_smtp_password(tmp_path):
    result = run(tmp_path, "mail:\n  smtp_url: 'smtpx://bob:hunter2@mail.example.org'\n"
                           "  password: [hunter3]\n", "check")
    assert result.exit_code == 2 and "hunter" not in result.output
    assert "mail.smtp_url" in result.output and "bob:***@mail.example.org" in result.output


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path):
    result = run(tmp_path, "database_url: postgresql://bob:hunter2@127.0.0.1:1/x\n",
                 "subscribers", "list")
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "hunter2" not in result.output and "127.0.0.1" in result.output


def test_an_unwritable_var_folder_is_one_line(tmp_path):
    where = tmp_path / "ro"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not permitted'})")
    try:
        result = run(tmp_path, f"paths:\n  var: {where / 'var'}\n", "subscribers", "list")
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and str(where / "var") in result.output
