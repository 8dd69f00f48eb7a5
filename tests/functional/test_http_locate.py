"""The geolocation API over HTTP, with trusted and untrusted forwarding headers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from lexloci.api.app import create_app
from lexloci.bootstrap import build_container
from lexloci.config import Settings
from tests.functional.servers import running_server


@pytest.fixture
def client_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(trust: list[str], peer: str = "127.0.0.1") -> TestClient:
        db = f"sqlite:///{tmp_path / 'lexloci.db'}"
        app = create_app(build_container(Settings(trust_proxy=trust, database_url=db)))
        return TestClient(app, client=(peer, 50000))

    return make


def test_locate_an_ip_and_a_phone(client_for) -> None:
    client = client_for([])
    body = client.get("/api/v1/locate", params={"ip": "223.5.5.5"}).json()
    assert body["territory"] == "CN"
    assert body["sources"][0]["source"] == "iptocc"
    body = client.get("/api/v1/locate", params={"phone": "+85366123456"}).json()
    assert body["territory"] == "MO"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ip": "300.1.1.1"}, "invalid_address"),
        ({"phone": "12345"}, "invalid_phone_number"),
        ({}, "invalid_input"),
        ({"ip": "1" * 200}, "invalid_input"),
    ],
)
def test_bad_input_is_422_in_the_single_error_shape(
    client_for, params: dict[str, str], code: str
) -> None:
    response = client_for([]).get("/api/v1/locate", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_unknown_path_has_the_error_shape(client_for) -> None:
    response = client_for([]).get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_x_forwarded_for_is_believed_from_a_trusted_loopback_peer(client_for) -> None:
    client = client_for(["127.0.0.1/32"])
    body = client.get("/api/v1/locate/me", headers={"X-Forwarded-For": "202.175.3.3"}).json()
    assert body["query"] == {"ip": "202.175.3.3", "via": "x-forwarded-for"}
    assert body["territory"] == "MO"


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(client_for) -> None:
    client = client_for(["10.0.0.0/8"], peer="127.0.0.1")
    body = client.get("/api/v1/locate/me", headers={"X-Forwarded-For": "202.175.3.3"}).json()
    assert body["query"]["ip"] == "127.0.0.1"
    assert body["territory"] is None
    assert body["reason"] == "non_global_address"


def test_malformed_forwarded_header_from_a_trusted_peer_gives_unknown(client_for) -> None:
    client = client_for(["127.0.0.1/32"])
    response = client.get("/api/v1/locate/me", headers={"Forwarded": 'for="[broken'})
    assert response.status_code == 200
    body = response.json()
    assert body["territory"] is None
    assert body["reason"] == "client_address_unknown"
    assert "unreadable" in body["client_address_reason"]


def test_real_server_over_loopback_honours_trust_proxy(tmp_path: Path) -> None:
    with running_server(["--trust-proxy", "127.0.0.1/32"], tmp_path) as base:
        trusted = httpx.get(f"{base}/api/v1/locate/me", headers={"X-Forwarded-For": "168.95.1.1"})
        assert trusted.json()["territory"] == "TW"
        health = httpx.get(f"{base}/healthz").json()
        assert health["status"] == "ok"
    with running_server([], tmp_path) as base:
        ignored = httpx.get(f"{base}/api/v1/locate/me", headers={"X-Forwarded-For": "168.95.1.1"})
        assert ignored.json()["query"]["ip"] == "127.0.0.1"
        assert ignored.json()["territory"] is None


def test_serve_refuses_a_bad_trust_proxy_clearly(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "lexloci", "serve", "--trust-proxy", "nonsense"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "not a CIDR range" in result.stderr
    assert "Traceback" not in result.stderr
