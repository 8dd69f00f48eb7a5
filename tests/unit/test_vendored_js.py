"""The Janus client library the meeting page serves is exactly what package-lock.json pins.

``scripts/vendor-js`` copies it from npm into ``lexloci/web/static/vendor/`` with a manifest
(``vendor.json``: each file's package, version, lock integrity and sha256). These tests tie the
bytes in the package to the lock, so a refreshed lock without a new copy, or a copy edited by
hand, fails here rather than in a browser.
"""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = files("lexloci.web") / "static" / "vendor"


def _json(path: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


MANIFEST = _json(VENDOR / "vendor.json")
LOCK = _json(ROOT / "package-lock.json")


def test_the_pins_in_package_json_are_the_versions_locked() -> None:
    pins = _json(ROOT / "package.json")["dependencies"]
    assert set(pins) == {"janus-gateway", "webrtc-adapter"}
    for name, version in pins.items():
        assert LOCK["packages"][f"node_modules/{name}"]["version"] == version


@pytest.mark.parametrize("name", sorted(MANIFEST["packages"]))
def test_each_vendored_package_is_the_locked_version_and_tarball(name: str) -> None:
    locked = LOCK["packages"][f"node_modules/{name}"]
    vendored = MANIFEST["packages"][name]
    assert vendored["version"] == locked["version"]
    assert vendored["integrity"] == locked["integrity"]
    assert vendored["license"] == locked["license"]


def test_every_locked_package_is_vendored_with_its_licence() -> None:
    locked = {key.removeprefix("node_modules/") for key in LOCK["packages"] if key}
    assert set(MANIFEST["packages"]) == locked
    licences = {f["package"] for n, f in MANIFEST["files"].items() if n.endswith(".LICENSE.txt")}
    assert licences == locked


@pytest.mark.parametrize("name", sorted(MANIFEST["files"]))
def test_each_vendored_file_is_the_one_copied_from_the_lock(name: str) -> None:
    body = (VENDOR / name).read_bytes()
    assert hashlib.sha256(body).hexdigest() == MANIFEST["files"][name]["sha256"]


def test_the_vendor_folder_holds_nothing_the_manifest_does_not_name() -> None:
    present = {entry.name for entry in VENDOR.iterdir()} - {"vendor.json"}
    assert present == set(MANIFEST["files"])


def test_janus_js_is_the_es_module_the_page_imports() -> None:
    janus = (VENDOR / "janus.es.js").read_text("utf-8")
    assert MANIFEST["files"]["janus.es.js"] == {
        "package": "janus-gateway",
        "from": "npm/dist/janus.es.js",
        "sha256": MANIFEST["files"]["janus.es.js"]["sha256"],
    }
    assert janus.rstrip().endswith("export { Janus as default };")
    # janus.js falls back to a public STUN server unless told otherwise; meet.js tells it.
    meet = (files("lexloci.web") / "static" / "meet.js").read_text("utf-8")
    assert "iceServers: []" in meet
