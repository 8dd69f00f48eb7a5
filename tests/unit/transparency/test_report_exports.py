"""The package's ``__all__`` is real, and every module states its invariants."""

from __future__ import annotations

import importlib
import pkgutil

import lexloci.transparency as package


def test_exported_members_exist_and_are_unique() -> None:
    exported = package.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert getattr(package, name) is not None, name


def test_every_module_opens_with_a_docstring_stating_its_invariants_or_order() -> None:
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        doc = module.__doc__ or ""
        assert len(doc.split()) > 30, info.name
        assert "invariant" in doc.lower() or "order" in doc.lower(), info.name
