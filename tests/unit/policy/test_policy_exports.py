"""``lexloci.policy.__all__`` is real, complete, and names no session-ending action."""

from __future__ import annotations

import importlib

import lexloci.policy as policy

SUBMODULES = ["decision", "engine", "placement", "restriction", "scope_guard", "sweep"]


def test_exported_members_exist_and_are_unique_and_sorted() -> None:
    exported = policy.__all__
    assert len(set(exported)) == len(exported)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for name in exported:
        assert getattr(policy, name) is not None


def test_package_exports_every_public_name_of_its_modules() -> None:
    public: set[str] = set()
    for name in SUBMODULES:
        public |= set(importlib.import_module(f"lexloci.policy.{name}").__all__)
    assert set(policy.__all__) == public


def test_no_exported_name_describes_ending_a_session_or_meeting() -> None:
    # I2: the engine cannot hand out an instruction to end a session; no type for it exists.
    words = ("end", "terminate", "close", "kill", "shutdown")
    for name in policy.__all__:
        lowered = name.lower()
        assert not any(lowered.startswith(w) or f"{w}session" in lowered for w in words), name
