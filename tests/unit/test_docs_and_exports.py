"""Docs as tests: every setting is documented; every package's ``__all__`` is real."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from lexloci.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"`LEXLOCI_{name.upper()}`" in readme


@pytest.mark.parametrize(
    "module",
    ["lexloci.geo", "lexloci.jurisdictions", "lexloci.errors", "lexloci.clock", "lexloci.frozen"],
)
def test_exported_members_exist_and_are_unique(module: str) -> None:
    mod = importlib.import_module(module)
    exported = mod.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(mod, name) is not None


def test_every_error_has_a_distinct_stable_code() -> None:
    from lexloci import errors

    classes = [getattr(errors, n) for n in errors.__all__]
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
