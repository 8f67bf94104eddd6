"""The case report: self-contained HTML and a PDF with the case's evidence, pictures and audit.

Uses the session's synthetic world from conftest.py (`report_world`); the case is a flagged
consumer linked to a platform referral, with comments, attachments and audit lines.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moneytrail.errors import UserError
from moneytrail.indicators import load_catalogue
from moneytrail.report.case_report import _change, _fill, _value, write_case_report
from moneytrail.report.charts import Corridor, _unwrap, _view, corridor_map, world
from moneytrail.report.context import Attachment, AuditLine, CaseComment, CaseContext
from moneytrail.report.evidence import gather

from .conftest import ReportWorld, make_case

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def consumer_case(report_world: ReportWorld) -> CaseContext:
    """A flagged consumer linked to a platform referral (one with a session-aligned payment if any)."""
    with duckdb.connect(str(report_world.warehouse), read_only=True) as c:
        row = c.execute("""
            SELECT s.subject_id FROM subject_scores s JOIN referral_links l USING (subject_id)
            LEFT JOIN subject_records r ON r.subject_id = s.subject_id
            LEFT JOIN aligned_payments a ON a.provider = r.provider AND a.record_id = r.record_id
            WHERE s.flagged = 1 AND s.role = 'consumer'
            GROUP BY 1 ORDER BY count(a.record_id) DESC, 1 LIMIT 1""").fetchone()
    assert row is not None, "the synthetic world has no flagged consumer linked to a referral"
    sid = str(row[0])
    case = make_case(report_world, "C-000101", [sid], title=f"Consumer {sid} linked to a platform referral")
    return replace(
        case, state="in_review", score=0.97, role="consumer",
        attachments=[Attachment("subject", sid, "the consumer")],
        comments=[CaseComment("alice", T0 + timedelta(hours=1), "Three unrelated receivers; <check> the referral.")],
        audit=[
            AuditLine(T0, "system", "case.open", "case:C-000101", None, {"state": "new", "subjects": [sid]}),
            AuditLine(T0 + timedelta(minutes=5), "bob", "case.assign", "case:C-000101",
                      {"assignee": None}, {"assignee": "alice"}),
            AuditLine(T0 + timedelta(minutes=30), "alice", "case.state", "case:C-000101",
                      {"state": "new"}, {"state": "in_review"}),
        ],
    )


@pytest.fixture(scope="module")
def written(consumer_case: CaseContext, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    out = tmp_path_factory.mktemp("case_report")
    paths = write_case_report(consumer_case, out)
    assert [p.name for p in paths] == ["C-000101.html", "C-000101.pdf"]
    return paths[0], paths[1], paths[0].read_text("utf-8")


def _images(page: str) -> dict[str, bytes]:
    """alt text -> decoded PNG of every embedded image."""
    out = {}
    for src, alt in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"', page):
        out[alt] = base64.b64decode(src)
    return out


def test_html_is_self_contained(written: tuple[Path, Path, str]) -> None:
    _, _, page = written
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "<link" not in page and "<script" not in page
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<style>" in page and "@page" in page  # the stylesheet is inline


def test_identifiers_of_the_subject_are_shown(written: tuple[Path, Path, str], consumer_case: CaseContext) -> None:
    page = html.unescape(written[2])
    subject = gather(consumer_case).subjects[0]
    assert consumer_case.subject_ids[0] in page
    shown = [*subject.names, *subject.phones, *subject.emails, *(a.account for a in subject.accounts)]
    assert shown, "the subject has identifiers"
    for value in shown:
        assert value in page, value
    for acc in subject.platform_accounts:
        assert acc.key in page


def test_indicators_are_shown_with_their_sources(written: tuple[Path, Path, str],
                                                 consumer_case: CaseContext) -> None:
    page = html.unescape(written[2])
    hits = gather(consumer_case).subjects[0].indicators
    assert hits
    cat = load_catalogue()
    for hit in hits:
        assert f">{hit.id}<" in page
        ind = cat.get(hit.id)
        if ind is not None:
            for src in ind.source_refs:
                assert f"{src.agency} ({src.year}). {src.document}" in page
    assert "{min_usd}" not in page  # thresholds show values, not placeholders


def test_timeline_network_and_map_are_embedded_pictures(written: tuple[Path, Path, str]) -> None:
    _, _, page = written
    images = _images(page)
    for alt in ("timeline of payments and platform sessions", "payment network around the case's subjects",
                "map of the payment corridors"):
        assert alt in images, alt
        data = images[alt]
        assert data.startswith(PNG)
        width = int.from_bytes(data[16:20], "big")
        assert width >= 600, (alt, width)


def test_comments_attachments_and_audit_lines_are_shown(written: tuple[Path, Path, str],
                                                        consumer_case: CaseContext) -> None:
    _, _, page = written
    assert "&lt;check&gt; the referral" in page  # escaped, not markup
    audit = page[page.index('id="audit"'):]
    rows = re.findall(r'<tr class="audit">(.*?)</tr>', audit, re.S)
    assert len(rows) == len(consumer_case.audit)
    for line, row in zip(consumer_case.audit, rows, strict=True):
        assert line.action in row and line.actor in row and f"{line.at:%Y-%m-%d %H:%M:%S}" in row
    assert "state: new → in_review" in audit and "assignee: — → alice" in audit


def test_pdf_exists_and_has_pages(written: tuple[Path, Path, str]) -> None:
    _, pdf, _ = written
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = 0
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            pages += len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", zlib.decompress(m.group(1))))
        except zlib.error:
            continue
    pages += len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    assert pages >= 2


def test_a_network_case_lists_each_indicator_once(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["network"]
    (page_path,) = write_case_report(ctx, tmp_path / "net.html", pdf=False)
    page = page_path.read_text("utf-8")
    table = page[page.index('id="indicators"'):page.index('id="timeline"')]
    ids = re.findall(r'<span class="tag (?:flag|net)">(\w+)</span>', table)
    assert ids and len(ids) == len(set(ids))
    assert all(s in page for s in ctx.subject_ids)


def test_out_must_be_html_or_a_directory(consumer_case: CaseContext, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\.html"):
        write_case_report(consumer_case, tmp_path / "report.txt")


def test_map_places_known_countries_and_names_the_rest() -> None:
    data, missing = corridor_map([Corridor("US", "PH", 5, 200.0, 5), Corridor("ZZ", "PH", 1, 10.0)])
    assert data.startswith(PNG) and missing == ["ZZ"]
    assert {"PH", "US", "GB", "AU", "SG"} <= set(world())


@given(st.lists(st.floats(min_value=-180, max_value=179.9), min_size=1, max_size=12))
def test_map_view_holds_every_point_in_the_narrowest_span(lons: list[float]) -> None:
    west = _view(lons)
    unwrapped = [_unwrap(x, west) for x in lons]
    assert min(unwrapped) == pytest.approx(west)
    span = max(unwrapped) - west
    pts = sorted({x % 360 for x in lons})
    widest_gap = max([(b - a) for a, b in itertools.pairwise(pts)] + [pts[0] + 360 - pts[-1]])
    assert span == pytest.approx(360 - widest_gap, abs=1e-6) or len(pts) == 1


def test_helpers() -> None:
    assert _fill("{min_usd}-{max_usd} USD", {"min_usd": 5, "max_usd": 200.0}) == "5-200 USD"
    assert _value("0.4592918585680569") == "0.459" and _value("21") == "21" and _value("PH") == "PH"
    line = AuditLine(T0, "ana", "case.state", "case:C-1", {"state": "new", "score": 1}, {"state": "closed_tp", "score": 1})
    assert _change(line) == "state: new → closed_tp"


def test_cli_writes_the_report_of_a_stored_case_and_audits_it(report_world: ReportWorld,
                                                              consumer_case: CaseContext, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from moneytrail.cases import get_case, sync_from_run
    from moneytrail.cli import app
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.audit import entries
    from moneytrail.opstore.models import Case, CaseSubject
    from moneytrail.opstore.users import create_user

    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    ops = OpsStore(url)
    with ops.session() as s:
        create_user(s, "ana", "a-long-password-1", "supervisor")
    sync_from_run(ops, report_world.warehouse, "ana")
    sid = consumer_case.subject_ids[0]
    with ops.session() as s:
        ref = (s.query(Case.ref).join(CaseSubject)
               .filter(CaseSubject.subject_id == sid, Case.kind == "subject").scalar())
    assert ref, "sync opened a case for the consumer"
    res = CliRunner().invoke(app, ["report", "case", ref, "--out", str(tmp_path), "--no-pdf",
                                   "--user", "ana", "--database", url])
    assert res.exit_code == 0, res.output
    page = (tmp_path / f"{ref}.html").read_text("utf-8")
    assert sid in page and "case.create" in page  # the trail as it stood when the report was made
    with ops.session() as s:
        actions = [e.action for e in entries(s, target=f"case:{get_case(s, ref).ref}")]
    assert "report.case" in actions and "case.read" in actions
