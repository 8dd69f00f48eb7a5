"""``lexloci locate`` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from lexloci.cli.main import app

runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lexloci", *args], capture_output=True, text=True, check=False
    )


def test_done_when_example_gives_cn_mo_tw_hk_and_null() -> None:
    result = run(
        "locate", "223.5.5.5", "202.175.3.3", "168.95.1.1", "+85221234567", "10.0.0.1", "--json"
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert [a["territory"] for a in answers] == ["CN", "MO", "TW", "HK", None]
    for answer in answers:
        assert {"query", "territory", "sources", "flags"} <= set(answer)
    assert answers[0]["sources"][0]["source"] == "iptocc"
    assert answers[4]["reason"] == "non_global_address"


def test_text_output_is_one_line_per_query() -> None:
    result = runner.invoke(app, ["locate", "223.5.5.5", "10.0.0.1", "+12025550100"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].split("\t")[:2] == ["223.5.5.5", "CN"]
    assert lines[1].split("\t")[1] == "unknown"
    assert "private" in lines[1]
    assert "shared by 25 territories" in lines[2]


def test_malformed_queries_exit_2_with_a_clear_message_and_no_traceback() -> None:
    result = run("locate", "223.5.5.5", "not-an-ip", "+999123")
    assert result.returncode == 2
    assert "not an IP address: 'not-an-ip'" in result.stderr
    assert "+999123" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.split("\t")[1] == "CN"


def test_missing_query_and_bad_option_exit_2() -> None:
    assert run("locate").returncode == 2
    assert run("serve", "--port", "notaport").returncode == 2


def test_bad_mmdb_path_is_a_clear_error() -> None:
    result = run("locate", "--geoip-mmdb", "/nonexistent.mmdb", "8.8.4.4")
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_teaches() -> None:
    result = runner.invoke(app, ["locate", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
