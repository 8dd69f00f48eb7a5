"""``--help`` must teach: the defaults written into option help survive rich's markup."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from lexloci.cli.main import app

runner = CliRunner()


def _help(*command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return re.sub(r"\s+", " ", result.output)


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        (["serve"], "[default: 127.0.0.1]"),
        (["serve"], "[default: 8000]"),
        (["serve"], "[default: sqlite:///lexloci.db]"),
        (["serve"], "[default: off]"),
        (["serve"], "[default: mesh]"),
        (["audit", "verify"], "[default: LEXLOCI_DATABASE_URL, else sqlite:///lexloci.db]"),
        (["platform", "add"], "[default: sqlite:///lexloci.db]"),
    ],
)
def test_help_shows_the_defaults_it_names(command: list[str], shown: str) -> None:
    assert shown in _help(*command)
