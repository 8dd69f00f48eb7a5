"""The transparency report end to end: requests from several countries filed and decided over
HTTP against a live server, the report fetched over HTTP, and generated, verified and tampered
with through the ``lexloci report`` command line, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from lexloci.auth import Role
from lexloci.cli.main import app as main_app
from lexloci.storage.engine import make_engine
from lexloci.storage.tables import audit_log
from tests.functional.live_server import LiveServer, live_server
from tests.functional.meeting_clients import Platform

CN = {"name": "Ministry of Public Security", "agency": "", "country": "CN", "jurisdiction": ["CN"]}
DE_EU = {"name": "Bundeskriminalamt", "agency": "", "country": "DE", "jurisdiction": ["EU"]}
DE = {"name": "Staatsanwaltschaft Berlin", "agency": "", "country": "DE", "jurisdiction": ["DE"]}
US = {
    "name": "Federal Bureau of Investigation",
    "agency": "",
    "country": "US",
    "jurisdiction": ["US"],
}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, database_url=database_url) as live:
        yield live


class Staff:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.tokens = {
            "intake": server.staff_token(Role.INTAKE, "alice"),
            "approver": server.staff_token(Role.APPROVER, "bob"),
            "reviewer": server.staff_token(Role.REVIEWER, "carol"),
            "auditor": server.staff_token(Role.AUDITOR, "dave"),
            "admin": server.staff_token(Role.ADMIN, "root"),
        }

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.server.http.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def file(
        self,
        authority: dict[str, Any],
        request_type: str,
        legal_process: str,
        targets: list[tuple[str, str]],
        **fields: Any,
    ) -> str:
        body = {
            "authority": authority,
            "request_type": request_type,
            "legal_process": legal_process,
            "legal_basis": "the law cited in the order",
            "targets": [{"kind": kind, "ref": ref} for kind, ref in targets],
            "received_at": "2026-06-01T08:00:00Z",
            **fields,
        }
        response = self.call("intake", "POST", "/cases", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def decide(self, case_id: str, decision: str = "approve_all", **fields: Any) -> str:
        response = self.call(
            "approver", "POST", f"/cases/{case_id}/decision", json={"decision": decision, **fields}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["status"])


@dataclass
class Scripted:
    cases: dict[str, str]
    platforms: dict[str, Platform]


def run_script(server: LiveServer, staff: Staff) -> Scripted:
    """Requests from CN, DE and US with every outcome (expected figures: see the test)."""
    vigil = Platform.create(server, home_country="US")
    cn_host = Platform.create(server, home_country="CN")
    de_host = Platform.create(server, home_country="DE")
    for where in ("CN", "HK", "US"):
        vigil.member(where, connect=False)
    cases: dict[str, str] = {}
    cases["cn_meeting"] = staff.file(
        CN, "restrict_meeting", "administrative_order", [("meeting", vigil.meeting_id)]
    )
    assert staff.decide(cases["cn_meeting"]) == "approved"  # removes the CN participant
    for _ in range(2):
        assert vigil.join("CN").status_code == 403
    assert vigil.join("HK").status_code == 201
    cases["cn_us_account"] = staff.file(
        CN, "restrict_account", "court_order", [("account", vigil.account_id)]
    )
    assert staff.decide(cases["cn_us_account"]) == "partially_approved"
    cases["cn_cn_account"] = staff.file(
        CN, "restrict_account", "court_order", [("account", cn_host.account_id)]
    )
    assert staff.decide(cases["cn_cn_account"]) == "approved"
    appeal = staff.call(
        "approver", "POST", f"/cases/{cases['cn_cn_account']}/appeal", json={"reason": "overturned"}
    )
    assert appeal.status_code == 200, appeal.text
    cases["de_eu"] = staff.file(
        DE_EU, "restrict_meeting", "court_order", [("meeting", de_host.meeting_id)]
    )
    assert staff.decide(cases["de_eu"]) == "approved"
    assert de_host.join("DE").status_code == 403
    assert de_host.join("US").status_code == 201
    cases["us_data"] = staff.file(US, "user_data", "subpoena", [("meeting", vigil.meeting_id)])
    assert staff.decide(cases["us_data"], "reject", rejection_reason="overbroad") == "rejected"
    cases["us_preserve"] = staff.file(
        US, "preservation", "subpoena", [("meeting", cn_host.meeting_id)]
    )
    assert staff.decide(cases["us_preserve"]) == "approved"
    cases["de_pending"] = staff.file(
        DE,
        "restrict_meeting",
        "administrative_order",
        [("meeting", vigil.meeting_id)],
        non_disclosure_until="2099-01-01T00:00:00Z",
    )
    return Scripted(cases, {"vigil": vigil, "cn_host": cn_host, "de_host": de_host})


EXPECTED = {
    "CN": {
        "requests.received": 3,
        "requests.by_type.restrict_meeting": 1,
        "requests.by_type.restrict_account": 2,
        "requests.by_legal_process.court_order": 2,
        "requests.by_legal_process.administrative_order": 1,
        "targets.accounts": 2,
        "targets.meetings": 1,
        "outcomes.decided": 3,
        "outcomes.complied": 2,
        "outcomes.partially": 1,
        "outcomes.appealed": 1,
        "actions.complied": 2,
        "actions.partially": 1,
        "actions.converted": 1,
        "rejection_reasons.outside_jurisdiction": 1,
        "participants.blocked.total": 2,
        "participants.blocked.by_territory.CN": 2,
        "participants.removed.total": 1,
        "participants.removed.by_territory.CN": 1,
        "accounts.suspended": 1,
        "accounts.reinstated": 1,
        "accounts.action_refused": 1,
        "restrictions.activated": 2,
        "restrictions.active_at_end": 2,
    },
    "DE": {
        "requests.received": 2,
        "requests.with_non_disclosure_order": 1,
        "requests.by_type.restrict_meeting": 2,
        "requests.by_legal_process.court_order": 1,
        "requests.by_legal_process.administrative_order": 1,
        "targets.meetings": 2,
        "outcomes.decided": 1,
        "outcomes.complied": 1,
        "outcomes.pending_at_end": 1,
        "actions.complied": 1,
        "participants.blocked.total": 1,
        "participants.blocked.by_territory.DE": 1,
        "non_disclosure_orders.in_force_at_end": 1,
        "restrictions.activated": 1,
        "restrictions.active_at_end": 1,
    },
    "US": {
        "requests.received": 2,
        "requests.by_type.user_data": 1,
        "requests.by_type.preservation": 1,
        "requests.by_legal_process.subpoena": 2,
        "targets.meetings": 2,
        "outcomes.decided": 2,
        "outcomes.complied": 1,
        "outcomes.rejected": 1,
        "actions.complied": 1,
        "actions.rejected": 1,
        "rejection_reasons.overbroad": 1,
    },
}


def nonzero(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update(nonzero(value, f"{prefix}{key}."))
        elif value != 0:
            out[f"{prefix}{key}"] = value
    return out


def around_today() -> dict[str, str]:
    """A period certain to hold everything the test just did, on the server's real clock."""
    today = dt.datetime.now(dt.UTC).date()
    return {
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def lexloci(*args: str) -> Ran:
    """``lexloci ARGS`` in this process (the real command tree, its real options and output)."""
    result = CliRunner().invoke(main_app, list(args))
    # Whatever happened, it ended in a deliberate exit, never in an uncaught exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def lexloci_process(*args: str) -> Ran:
    """``lexloci ARGS`` as its own process, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "lexloci", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def test_a_scripted_set_of_requests_gives_exactly_the_expected_report_over_http(
    server: LiveServer,
) -> None:
    staff = Staff(server)
    run_script(server, staff)
    response = staff.call("auditor", "GET", "/reports/transparency", params=around_today())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert sorted(document["countries"]) == ["CN", "DE", "US"]
    for country, expected in EXPECTED.items():
        assert nonzero(document["countries"][country]) == expected, country
    totals: dict[str, int] = {}
    for expected in EXPECTED.values():
        for name, value in expected.items():
            totals[name] = totals.get(name, 0) + value
    assert nonzero(document["totals"]) == totals
    assert nonzero(document["unattributed"]) == {}

    # The response cites what the report was computed from, and the log records its generation.
    checkpoint = document["checkpoint"]
    assert response.headers["x-lexloci-checkpoint"] == (
        f"{checkpoint['origin']} {checkpoint['size']} {checkpoint['root_hash']}"
    )
    recorded = staff.call(
        "auditor", "GET", "/audit", params={"tag": "report:transparency:generated"}
    ).json()["entries"]
    assert [e["payload"]["digest"] for e in recorded] == [
        response.headers["x-lexloci-report-digest"]
    ]
    assert recorded[0]["seq"] > checkpoint["size"]
    assert recorded[0]["actor"] == "auditor:dave"

    # The same report as CSV and HTML, banded.
    banded = {**around_today(), "band": 3}
    as_csv = staff.call("admin", "GET", "/reports/transparency", params={**banded, "format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    rows = {
        (r["country"], r["metric"]): r["value"] for r in csv.DictReader(io.StringIO(as_csv.text))
    }
    assert rows[("CN", "requests.received")] == "3"
    assert rows[("DE", "requests.received")] == "1-2"
    as_html = staff.call(
        "auditor", "GET", "/reports/transparency", params={**banded, "format": "html"}
    )
    assert as_html.headers["content-type"] == "text/html; charset=utf-8"
    assert '<rect class="bar' in as_html.text
    assert "China (CN)" in as_html.text


def test_the_report_endpoint_needs_an_auditor_or_admin_and_a_valid_period(
    server: LiveServer,
) -> None:
    staff = Staff(server)
    anonymous = server.http.get("/api/v1/reports/transparency")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    reviewer = staff.call("reviewer", "GET", "/reports/transparency")
    assert reviewer.status_code == 403
    assert reviewer.json()["error"]["code"] == "forbidden"
    for params, fragment in (
        ({"period": "2026-H3"}, "unknown period"),
        ({"period": "2026-H2", "from": "2026-07-01", "to": "2026-07-02"}, "not both"),
        ({"from": "2026-07-01"}, "both from and to"),
        ({"from": "2026-07-02", "to": "2026-07-01"}, "before it starts"),
        ({"format": "pdf"}, "format"),
        ({"band": 1}, "band"),
    ):
        response = staff.call("auditor", "GET", "/reports/transparency", params=params)
        assert response.status_code == 422, params
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert fragment in error["message"], (params, error)
    named = staff.call("auditor", "GET", "/reports/transparency", params={"period": "2026-H2"})
    assert named.status_code == 200
    assert named.json()["period"]["label"] == "2026-H2"


def test_notices_over_http_and_the_command_line(server: LiveServer, database_url: str) -> None:
    staff = Staff(server)
    platform = Platform.create(server, home_country="US")
    gagged = staff.file(
        CN, "user_data", "warrant", [("meeting", platform.meeting_id)],
        non_disclosure_until="2099-01-01T00:00:00Z",
    )  # fmt: skip
    public = staff.file(US, "preservation", "subpoena", [("meeting", platform.meeting_id)])
    staff.decide(public)

    withheld = staff.call("auditor", "GET", f"/reports/notices/{gagged}")
    assert withheld.status_code == 200
    assert withheld.json()["status"] == "withheld"
    assert withheld.json()["withheld_until"] == "2099-01-01T00:00:00.000000Z"
    assert "Ministry" not in withheld.text

    published = staff.call("admin", "GET", f"/reports/notices/{public}")
    assert published.json()["status"] == "published"
    assert published.json()["sender"]["country_code"] == "US"
    assert platform.meeting_id not in published.text

    missing = staff.call("auditor", "GET", "/reports/notices/case_0000000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert staff.call("reviewer", "GET", f"/reports/notices/{public}").status_code == 403

    cli = lexloci("report", "notice", public, "--db", database_url)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["action_taken"] == "Yes"
    unknown = lexloci("report", "notice", "case_0000000000000000", "--db", database_url)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: no case 'case_0000000000000000'")
    exported = staff.call("auditor", "GET", "/audit", params={"tag": "report:notice:exported"})
    assert [e["actor"] for e in exported.json()["entries"]] == [
        "auditor:dave",
        "admin:root",
        "cli:report",
    ]


def _tamper(url: str, seq: int) -> None:
    """Rewrite one entry's body in place, as someone who owns the database could."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            else:
                conn.exec_driver_sql("DROP TRIGGER audit_log_no_change ON audit_log")
            body = conn.execute(
                sa.select(audit_log.c.body).where(audit_log.c.seq == seq)
            ).scalar_one()
            forged = body.replace(b'"requesting_country":"US"', b'"requesting_country":"FR"')
            assert forged != body
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(body=forged))
    finally:
        engine.dispose()


def test_report_verify_confirms_a_report_names_a_changed_figure_and_finds_a_rewritten_log(
    server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    staff = Staff(server)
    scripted = run_script(server, staff)
    period = around_today()
    report = tmp_path / "report.json"
    generated = lexloci_process(
        "report", "transparency", "--from", period["from"], "--to", period["to"],
        "-o", str(report), "--db", database_url,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    assert "recorded as audit entry" in generated.stderr
    document = json.loads(report.read_text())
    assert nonzero(document["countries"]["US"]) == EXPECTED["US"]

    confirmed = lexloci_process("report", "verify", str(report), "--db", database_url)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    assert confirmed.stdout.startswith("OK: all ")
    assert "its generation is recorded at audit entry" in confirmed.stdout

    html = tmp_path / "report.html"
    assert lexloci("report", "transparency", "--from", period["from"], "--to", period["to"],
                   "-o", str(html), "--db", database_url).returncode == 0  # fmt: skip
    assert lexloci("report", "verify", str(html), "--db", database_url).returncode == 0

    document["countries"]["US"]["outcomes"]["rejected"] = 0
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(document, indent=2))
    differs = lexloci("report", "verify", str(changed), "--db", database_url)
    assert differs.returncode == 1
    assert differs.stdout.splitlines()[0] == (
        "DIFFERS: countries.US.outcomes.rejected: the report says 0, the log gives 1"
    )

    not_a_report = tmp_path / "notes.json"
    not_a_report.write_text('{"hello": "world"}')
    bad = lexloci("report", "verify", str(not_a_report), "--db", database_url)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "not a lexloci transparency report" in bad.stderr
    assert lexloci("report", "verify", str(tmp_path / "absent.json")).returncode == 2
    no_db = lexloci("report", "verify", str(report), "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert no_db.returncode == 2
    assert "no SQLite database" in no_db.stderr

    received = staff.call(
        "auditor", "GET", "/audit", params={"tag": "case:case:received", "limit": 1000}
    ).json()["entries"]
    us_seq = next(
        e["seq"] for e in received if e["payload"]["case_id"] == scripted.cases["us_data"]
    )
    _tamper(database_url, us_seq)
    mismatch = lexloci("report", "verify", str(report), "--db", database_url)
    assert mismatch.returncode == 1
    assert mismatch.stdout.startswith("LOG MISMATCH: the log no longer has the checkpoint")
    assert f"entry {us_seq}: hash_mismatch" in mismatch.stdout


def test_report_transparency_refuses_bad_input_on_the_command_line(
    server: LiveServer, database_url: str, tmp_path: Path
) -> None:
    for args, fragment in (
        (["--period", "2026-H5"], "unknown period"),
        (["--from", "2026-07-01"], "both from and to"),
        (["--format", "pdf"], "unknown format"),
    ):
        result = lexloci("report", "transparency", *args, "--db", database_url)
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: "), result.stderr
        assert fragment in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    band = lexloci("report", "transparency", "--band", "1", "--db", database_url)
    assert band.returncode == 2
    missing = lexloci("report", "transparency", "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert missing.returncode == 2
    assert "no SQLite database" in missing.stderr
    csv_out = tmp_path / "h2.csv"
    ok = lexloci(
        "report", "transparency", "--period", "2026-H2", "-o", str(csv_out), "--db", database_url
    )
    assert ok.returncode == 0, ok.stderr
    assert csv_out.read_text().startswith("period,checkpoint_origin,")


def test_long_logs_show_progress_on_stderr(
    server: LiveServer, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lexloci.cli import report_commands

    # A log counts as long from LONG_LOG entries; lower the bar instead of writing 100,000.
    monkeypatch.setattr(report_commands, "LONG_LOG", 1)
    staff = Staff(server)
    platform = Platform.create(server, home_country="US")
    staff.decide(
        staff.file(CN, "restrict_meeting", "court_order", [("meeting", platform.meeting_id)])
    )
    assert platform.join("CN").status_code == 403
    report = tmp_path / "report.json"
    period = around_today()
    made = lexloci(
        "report", "transparency", "--from", period["from"], "--to", period["to"],
        "-o", str(report), "--db", database_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    lines = made.stderr.splitlines()
    assert lines[0].startswith("computing: ")
    assert "(case:case:received)" in lines[0]
    assert any(line.endswith("(meeting:participant:join_denied)") for line in lines)
    checked = lexloci("report", "verify", str(report), "--db", database_url)
    assert checked.returncode == 0, checked.stdout
    assert "verifying the chain: " in checked.stderr
    assert "(100%)" in checked.stderr
