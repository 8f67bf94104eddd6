"""pacs.008 reader: real samples, versions, envelopes, rejections, broken and mutated files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail.ingest import pacs008
from moneytrail.ingest.pacs008 import is_pacs008, read_pacs008
from moneytrail.ingest.stage import STAGE_SCHEMA, Rejected

# The real samples live in the project's shared/ folder, beside the repository.
_CANDIDATES = [Path(__file__).resolve().parents[3] / "shared", Path("/work/shared")]
SAMPLES = next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0]) / "samples" / "iso20022"
NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.{v}"


def tx(
    uetr: str | None = "11111111-1111-4111-8111-111111111111",
    e2e: str | None = "E2E-1",
    txid: str | None = "TX-1",
    amount: str | None = "35.00",
    ccy: str | None = "USD",
    extra: str = "",
    debtor: str = "<Dbtr><Nm>John Smith</Nm></Dbtr>",
    creditor: str = "<Cdtr><Nm>Maria Santos</Nm></Cdtr>",
) -> str:
    ids = "".join(
        f"<{tag}>{val}</{tag}>"
        for tag, val in (("EndToEndId", e2e), ("TxId", txid), ("UETR", uetr))
        if val is not None
    )
    ccy_attr = f' Ccy="{ccy}"' if ccy is not None else ""
    amt = f"<IntrBkSttlmAmt{ccy_attr}>{amount}</IntrBkSttlmAmt>" if amount is not None else ""
    return (
        f"<CdtTrfTxInf><PmtId>{ids}</PmtId>{amt}<IntrBkSttlmDt>2026-03-01</IntrBkSttlmDt>"
        f"{extra}{debtor}{creditor}</CdtTrfTxInf>"
    )


def doc(
    *txs: str, version: str = "08", envelope: bool = False, cre: str | None = "2026-03-01T10:00:00Z"
) -> str:
    grp = "<GrpHdr><MsgId>M1</MsgId>" + (f"<CreDtTm>{cre}</CreDtTm>" if cre else "") + "</GrpHdr>"
    body = (
        f'<Document xmlns="{NS.format(v=version)}"><FIToFICstmrCdtTrf>{grp}\n'
        + "\n".join(txs)
        + "\n</FIToFICstmrCdtTrf></Document>"
    )
    if envelope:
        body = (
            '<Envelope><AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">'
            "<Fr><FIId><FinInstnId><BICFI>AAAAGB2LXXX</BICFI></FinInstnId></FIId></Fr>"
            "<MsgDefIdr>pacs.008.001.08</MsgDefIdr></AppHdr>\n" + body + "</Envelope>"
        )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def read(path: Path) -> tuple[list[dict[str, str | None]], list[Rejected]]:
    rows: list[dict[str, str | None]] = []
    rejected: list[Rejected] = []
    for batch, rej in read_pacs008(path):
        assert batch.schema == STAGE_SCHEMA
        rows += batch.to_pylist()
        rejected += rej
    return rows, rejected


def write(tmp_path: Path, text: str | bytes, name: str = "f.xml") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


# --- real samples ----------------------------------------------------------

SAMPLE_EXPECT = {
    "cbpr-y2025-pacs.008.max.xml": ("00000000-0000-4000-aba0-f03b25f59320", "EXNm", "ABCDGBEFXXX", "PQRSUSNOXXX", "2026-01-01"),
    "cbpr-y2026-pacs.008.max.xml": ("00000000-0000-4000-8322-704e78b41399", "EXNm", "BCDEGB34XXX", "QRSTUSOPXXX", "2026-01-01"),
    "cbpr-y2025-pacs.008.min.xml": ("00000000-0000-4000-9a9f-b231a317421a", "EXAMPLE PARTY NV", None, None, None),
    "cbpr-y2026-pacs.008.min.xml": ("00000000-0000-4000-b221-3244f5d5c293", "EXAMPLE PARTY NV", None, None, None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SAMPLE_EXPECT))
def test_real_samples(name: str) -> None:
    uetr, party_name, from_bic, to_bic, dob = SAMPLE_EXPECT[name]
    path = SAMPLES / name
    assert is_pacs008(path)
    rows, rejected = read(path)
    assert rejected == []
    assert len(rows) == 1
    r = rows[0]
    assert r["record_id"] == uetr
    assert (r["amount"], r["currency"]) == ("1000.00", "EUR")
    assert r["ts"] == "2026-01-01T10:00:00+00:00"  # GrpHdr/CreDtTm
    assert r["location"] == "/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1]"
    assert r["txn_type"] == "credit_transfer"
    assert (r["from_party"], r["to_party"]) == ("debtor", "creditor")
    assert (r["from_name"], r["to_name"]) == (party_name, party_name)
    # min samples: InstgAgt/InstdAgt carry BICs, DbtrAgt/CdtrAgt do not
    assert (r["from_agent_bic"], r["to_agent_bic"]) == (from_bic, to_bic)
    assert (r["from_dob"], r["to_dob"]) == (dob, dob)
    raw = str(r["raw"])
    assert raw.startswith("<CdtTrfTxInf") and len(raw) <= 300
    for col in STAGE_SCHEMA.names:
        if col.startswith("ben_"):
            assert r[col] is None


def test_max_sample_party_details() -> None:
    (r,), _ = read(SAMPLES / "cbpr-y2026-pacs.008.max.xml")
    assert r["from_address"] == "EXStrtNm EXBldgNb, EXPstCd, EXAdrLine"
    assert (r["from_city"], r["from_country"]) == ("EXTwnNm", "GB")
    assert (r["from_account"], r["from_account_kind"]) == ("EXId", "account")
    assert (r["from_id_type"], r["from_id_number"]) == ("EXCd", "EXId")
    assert r["purpose_code"] == "EXCd"
    assert r["memo"] is None  # only RltdRmtInf, no RmtInf/Ustrd


# --- structure and versions ---------------------------------------------------


@pytest.mark.parametrize("version", ["08", "10", "12"])
@pytest.mark.parametrize("envelope", [False, True])
def test_versions_and_envelope(tmp_path: Path, version: str, envelope: bool) -> None:
    p = write(tmp_path, doc(tx(), tx(uetr="u2"), tx(uetr="u3"), version=version, envelope=envelope))
    assert is_pacs008(p)
    rows, rejected = read(p)
    assert rejected == []
    prefix = "/Envelope" if envelope else ""
    assert [r["record_id"] for r in rows] == ["11111111-1111-4111-8111-111111111111", "u2", "u3"]
    assert [r["location"] for r in rows] == [
        f"{prefix}/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[{i}]" for i in (1, 2, 3)
    ]


def test_prefixed_namespace(tmp_path: Path) -> None:
    text = doc(tx()).replace("<", "<p:").replace("<p:/", "</p:").replace("<p:?", "<?")
    text = text.replace('xmlns="', 'xmlns:p="')
    rows, rejected = read(write(tmp_path, text))
    assert rejected == [] and rows[0]["from_name"] == "John Smith"


def test_is_pacs008_negative(tmp_path: Path) -> None:
    assert not is_pacs008(write(tmp_path, doc(tx()).replace("pacs.008", "pacs.009")))
    assert not is_pacs008(write(tmp_path, "transfer_id,created_at\n1,2\n"))
    assert not is_pacs008(write(tmp_path, b""))
    with pytest.raises(OSError):
        is_pacs008(tmp_path / "missing.xml")


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        list(read_pacs008(tmp_path / "missing.xml"))


def test_batches(tmp_path: Path) -> None:
    p = write(tmp_path, doc(*(tx(uetr=f"u{i}") for i in range(7))))
    sizes = [b.num_rows for b, _ in read_pacs008(p, batch_size=3)]
    assert sizes == [3, 3, 1]


# --- fields -------------------------------------------------------------------


def test_amount_and_timestamp_precedence(tmp_path: Path) -> None:
    instd = '<InstdAmt Ccy="AUD">50.00</InstdAmt>'
    accepted = "<AccptncDtTm>2026-03-01T02:14:09+08:00</AccptncDtTm>"
    p = write(tmp_path, doc(tx(uetr="a", extra=instd + accepted), tx(uetr="b")))
    (a, b), _ = read(p)
    assert (a["amount"], a["currency"], a["ts"]) == ("50.00", "AUD", "2026-03-01T02:14:09+08:00")
    assert (b["amount"], b["currency"], b["ts"]) == ("35.00", "USD", "2026-03-01T10:00:00Z")
    (c,), _ = read(write(tmp_path, doc(tx(), cre=None)))
    assert c["ts"] == "2026-03-01"  # IntrBkSttlmDt


def test_record_id_fallback(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        doc(tx(uetr=None), tx(uetr=None, e2e=None, txid="T9"), tx(uetr=None, e2e="NOTPROVIDED")),
    )
    rows, _ = read(p)
    assert [r["record_id"] for r in rows] == ["E2E-1", "T9", "TX-1"]


def test_parties_in_full(tmp_path: Path) -> None:
    debtor = (
        "<UltmtDbtr><Nm>Ultimate</Nm><Id><PrvtId><DtAndPlcOfBirth><BirthDt>1900-01-01</BirthDt>"
        "</DtAndPlcOfBirth></PrvtId></Id></UltmtDbtr><InitgPty><Nm>Initiator</Nm></InitgPty>"
        "<Dbtr><Nm> John Smith </Nm><PstlAdr><StrtNm>George St</StrtNm><BldgNb>5</BldgNb>"
        "<PstCd>2000</PstCd><TwnNm>Sydney</TwnNm><Ctry>AU</Ctry></PstlAdr>"
        "<Id><PrvtId><DtAndPlcOfBirth><BirthDt>1971-05-02</BirthDt></DtAndPlcOfBirth>"
        "<Othr><Id>PA123</Id><SchmeNm><Cd>CCPT</Cd></SchmeNm></Othr></PrvtId></Id>"
        "<CtctDtls><PhneNb>+61-2-9999</PhneNb><MobNb>+61-400111222</MobNb>"
        "<EmailAdr>JS@Example.com</EmailAdr></CtctDtls></Dbtr>"
        "<DbtrAcct><Id><IBAN>GB33BUKB20201555555555</IBAN></Id></DbtrAcct>"
        "<DbtrAgt><FinInstnId><BICFI>BANKGB2LXXX</BICFI></FinInstnId></DbtrAgt>"
    )
    creditor = (
        "<CdtrAgt><FinInstnId><BICFI>BANKPHMMXXX</BICFI></FinInstnId></CdtrAgt>"
        "<Cdtr><Nm>Maria Santos</Nm><PstlAdr><AdrLine>12 Rizal St</AdrLine>"
        "<AdrLine>Brgy 5</AdrLine><TwnNm>Cebu</TwnNm></PstlAdr><CtryOfRes>PH</CtryOfRes>"
        "<CtctDtls><PhneNb>+63-9175550101</PhneNb></CtctDtls></Cdtr>"
        "<CdtrAcct><Id><Othr><Id>PH0001</Id></Othr></Id></CdtrAcct>"
        "<UltmtCdtr><Nm>Other</Nm></UltmtCdtr><Purp><Cd>GIFT</Cd></Purp>"
        "<RmtInf><Ustrd>for</Ustrd><Ustrd>school</Ustrd></RmtInf>"
    )
    (r,), rej = read(write(tmp_path, doc(tx(debtor=debtor, creditor=creditor))))
    assert rej == []
    assert r["from_name"] == "John Smith"
    assert r["from_dob"] == "1971-05-02"
    assert r["from_address"] == "George St 5, 2000"
    assert (r["from_city"], r["from_country"]) == ("Sydney", "AU")
    assert (r["from_phone"], r["from_email"]) == ("+61-400111222", "JS@Example.com")
    assert (r["from_id_type"], r["from_id_number"]) == ("CCPT", "PA123")
    assert (r["from_account"], r["from_account_kind"]) == ("GB33BUKB20201555555555", "iban")
    assert r["from_agent_bic"] == "BANKGB2LXXX"
    assert r["to_name"] == "Maria Santos"
    assert (r["to_address"], r["to_city"], r["to_country"]) == ("12 Rizal St, Brgy 5", "Cebu", "PH")
    assert r["to_phone"] == "+63-9175550101"
    assert (r["to_account"], r["to_account_kind"]) == ("PH0001", "account")
    assert r["to_agent_bic"] == "BANKPHMMXXX"
    assert (r["purpose_code"], r["memo"]) == ("GIFT", "for school")
    assert r["to_dob"] is None


# --- rejections -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"amount": None}, "no amount"),
        ({"amount": "  "}, "no amount"),
        ({"ccy": None}, "no currency"),
        ({"uetr": None, "e2e": None, "txid": None}, "no UETR, EndToEndId or TxId"),
        ({"uetr": None, "e2e": "NOTPROVIDED", "txid": None}, "no UETR, EndToEndId or TxId"),
        ({"amount": None, "uetr": None, "e2e": None, "txid": None}, "no amount; no UETR, EndToEndId or TxId"),
    ],
)  # fmt: skip
def test_rejections(tmp_path: Path, kwargs: dict[str, Any], reason: str) -> None:
    p = write(tmp_path, doc(tx(uetr="ok1"), tx(**kwargs), tx(uetr="ok3"), envelope=True))
    rows, rejected = read(p)
    assert [r["record_id"] for r in rows] == ["ok1", "ok3"]
    assert len(rejected) == 1
    assert rejected[0].location == "/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]"
    assert rejected[0].reason == reason
    assert rejected[0].raw.startswith("<CdtTrfTxInf")


def test_broken_xml_keeps_what_came_before(tmp_path: Path) -> None:
    text = doc(tx(uetr="a"), tx(uetr="b"), tx(uetr="c"))
    lines = text.splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if ">c<" in line)
    p = write(tmp_path, text.replace("<UETR>c</UETR>", "<UETR>c</Oops>"))
    rows, rejected = read(p)
    assert [r["record_id"] for r in rows] == ["a", "b"]
    assert len(rejected) == 1
    assert rejected[0].location == f"line {bad_line}"
    assert "not well-formed XML" in rejected[0].reason and "mismatch" in rejected[0].reason


def test_truncated_file(tmp_path: Path) -> None:
    text = doc(tx(uetr="a"), tx(uetr="b"))
    p = write(tmp_path, text[: text.index("<UETR>b")])
    rows, rejected = read(p)
    assert [r["record_id"] for r in rows] == ["a"]
    assert len(rejected) == 1 and re.fullmatch(r"line \d+", rejected[0].location)


@pytest.mark.parametrize("content", [b"", b"not xml at all", b"\xff\xfe\x00<", b"<a><b></a>"])
def test_garbage_is_one_rejection(tmp_path: Path, content: bytes) -> None:
    rows, rejected = read(write(tmp_path, content))
    assert rows == [] and len(rejected) == 1 and rejected[0].location.startswith("line ")


# --- properties -------------------------------------------------------------------

_PROPS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_ELEMENTS = ["PmtId", "UETR", "EndToEndId", "TxId", "IntrBkSttlmAmt", "Dbtr", "Cdtr", "Nm",
             "IntrBkSttlmDt", "CdtTrfTxInf"]  # fmt: skip
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@st.composite
def mutated_doc(draw: st.DrawFn) -> tuple[str, int]:
    """A well-formed pacs.008 with elements dropped, emptied or garbled."""
    n = draw(st.integers(1, 6))
    txs = []
    for i in range(n):
        t = tx(
            uetr=draw(st.one_of(st.none(), st.just(f"u{i}"), _text.map(_esc))),
            e2e=draw(st.one_of(st.none(), st.just("NOTPROVIDED"), _text.map(_esc))),
            txid=draw(st.one_of(st.none(), _text.map(_esc))),
            amount=draw(st.one_of(st.none(), st.just("35.00"), _text.map(_esc))),
            ccy=draw(
                st.one_of(st.none(), st.just("USD"), _text.map(lambda s: _esc(s).replace('"', "")))
            ),
        )
        for name in draw(st.lists(st.sampled_from(_ELEMENTS[:-1]), max_size=3)):
            # drop every such element (with its content) from this transaction
            t = re.sub(rf"<{name}( [^>]*)?>.*?</{name}>", "", t)
        txs.append(t)
    return doc(
        *txs, version=draw(st.sampled_from(["08", "10", "12"])), envelope=draw(st.booleans())
    ), n


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@_PROPS
@given(mutated_doc())
def test_every_transaction_is_a_row_or_a_rejection(tmp_path: Path, case: tuple[str, int]) -> None:
    text, n = case
    rows, rejected = read(write(tmp_path, text))
    assert len(rows) + len(rejected) == n
    assert all(r["record_id"] and r["amount"] and r["currency"] for r in rows)
    assert all("CdtTrfTxInf[" in r.location for r in rejected)


@_PROPS
@given(mutated_doc(), st.data())
def test_truncated_anywhere_never_raises(
    tmp_path: Path, case: tuple[str, int], data: st.DataObject
) -> None:
    text, n = case
    raw = text.encode()
    cut = data.draw(st.integers(0, len(raw)))
    rows, rejected = _same_both_ways(write(tmp_path, raw[:cut]))
    breaks = [r for r in rejected if r.location.startswith("line ")]
    per_tx = len(rows) + len(rejected) - len(breaks)
    assert len(breaks) <= 1
    assert per_tx <= n
    if not breaks:
        assert per_tx == n


@_PROPS
@given(mutated_doc(), st.data())
def test_corrupted_bytes_never_raise(
    tmp_path: Path, case: tuple[str, int], data: st.DataObject
) -> None:
    raw = bytearray(case[0].encode())
    for _ in range(data.draw(st.integers(1, 5))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    rows, rejected = _same_both_ways(write(tmp_path, bytes(raw)))
    assert len(rows) + len(rejected) <= case[1] + 1


@_PROPS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(tmp_path: Path, content: bytes) -> None:
    for batch, rejected in read_pacs008(write(tmp_path, content)):
        assert isinstance(batch, pa.RecordBatch)
        assert all(isinstance(r, Rejected) for r in rejected)
    is_pacs008(tmp_path / "f.xml")


# --- fast path (runs cut from the bytes) against the slow path (iterparse) ------------


def _no_raw(rows: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    # The fast path's excerpt is the source text, the slow path's a serialisation.
    return [{k: v for k, v in r.items() if k != "raw"} for r in rows]


def _same_both_ways(path: Path) -> tuple[list[dict[str, str | None]], list[Rejected]]:
    rows, rejected = read(path)
    slow_rows, slow_rejected = [], []
    for batch, rej in read_pacs008(path, fast=False):
        slow_rows += batch.to_pylist()
        slow_rejected += rej
    assert _no_raw(rows) == _no_raw(slow_rows)
    assert [(r.location, r.reason) for r in rejected] == [
        (r.location, r.reason) for r in slow_rejected
    ]
    return rows, rejected


def _forbid_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*_: object) -> None:
        raise AssertionError("the slow path ran")

    monkeypatch.setattr(pacs008, "_slow_stream", slow)


def test_clean_file_takes_the_fast_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write(tmp_path, doc(*(tx(uetr=f"u{i}") for i in range(2_500)), envelope=True))
    _forbid_slow_path(monkeypatch)
    rows, rejected = read(p)
    assert rejected == [] and len(rows) == 2_500
    assert rows[-1]["location"] == "/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2500]"
    assert str(rows[0]["raw"]).startswith("<CdtTrfTxInf><PmtId>")


def test_real_samples_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_slow_path(monkeypatch)
    for name in SAMPLE_EXPECT:
        (r,), _ = read(SAMPLES / name)
        assert r["record_id"] == SAMPLE_EXPECT[name][0]


@pytest.mark.parametrize(
    "trouble",
    [
        "<!-- </CdtTrfTxInf> -->",  # a hidden end tag: the cut is wrong
        '<q:CdtTrfTxInf xmlns:q="urn:x"><PmtId><TxId>nested</TxId></PmtId>'
        '<IntrBkSttlmAmt Ccy="EUR">1</IntrBkSttlmAmt></q:CdtTrfTxInf>',  # iterparse sees it
        "<Oops>",  # a syntax error: the slow path finds its line
    ],
)
def test_fallback_mid_file_matches_the_slow_path(tmp_path: Path, trouble: str) -> None:
    txs = [tx(uetr=f"u{i}") for i in range(2_300)]
    txs[1_700] = txs[1_700].replace("<IntrBkSttlmDt>", trouble + "<IntrBkSttlmDt>")
    rows, rejected = _same_both_ways(write(tmp_path, doc(*txs)))
    assert [r["record_id"] for r in rows[:1_700]] == [f"u{i}" for i in range(1_700)]
    if trouble == "<Oops>":
        assert len(rows) == 1_700 and rejected[0].location.startswith("line ")
    else:
        assert len(rows) + len(rejected) >= 2_300


def test_grphdr_between_transactions(tmp_path: Path) -> None:
    text = doc(tx(uetr="a"), tx(uetr="b")).replace(
        "\n" + tx(uetr="b"),
        "<GrpHdr><CreDtTm>2026-05-05T00:00:00Z</CreDtTm></GrpHdr>" + tx(uetr="b"),
    )
    rows, _ = _same_both_ways(write(tmp_path, text))
    assert [r["ts"] for r in rows] == ["2026-03-01T10:00:00Z", "2026-05-05T00:00:00Z"]


def test_other_encoding_and_doctype(tmp_path: Path) -> None:
    latin = doc(tx(debtor="<Dbtr><Nm>José Müller</Nm></Dbtr>")).replace("UTF-8", "ISO-8859-1")
    (r,), _ = _same_both_ways(write(tmp_path, latin.encode("latin-1")))
    assert r["from_name"] == "José Müller"
    dtd = doc(tx(debtor="<Dbtr><Nm>A &amp; B</Nm></Dbtr>")).replace(
        "\n<Document", '\n<!DOCTYPE Document [<!ENTITY x "y">]>\n<Document'
    )
    (r,), _ = _same_both_ways(write(tmp_path, dtd))
    assert r["from_name"] == "A & B"


@pytest.mark.parametrize(
    ("name", "line", "expect"),
    [
        ("A\ue000B&#xE001;C", "x", ("ABC", "x")),
        ("AB", "x\ue002y", ("AB", "xy")),
        ("AB", "x&#xE002;y", ("AB", "xy")),
    ],
)
def test_separator_characters_in_values(
    tmp_path: Path, name: str, line: str, expect: tuple[str, str]
) -> None:
    # The stylesheet prints fields between private-use characters; values
    # holding them (literally or as references) lose them, never shift fields.
    debtor = f"<Dbtr><Nm>{name}</Nm><PstlAdr><AdrLine>{line}</AdrLine></PstlAdr></Dbtr>"
    (r,), _ = _same_both_ways(write(tmp_path, doc(tx(debtor=debtor))))
    assert (r["from_name"], r["from_address"]) == expect
    assert r["to_name"] == "Maria Santos"


def test_broken_trailer_after_the_last_transaction(tmp_path: Path) -> None:
    text = doc(*(tx(uetr=f"u{i}") for i in range(5)))
    rows, rejected = _same_both_ways(write(tmp_path, text.replace("</Document>", "</Documnt>")))
    assert len(rows) == 5 and len(rejected) == 1 and rejected[0].location.startswith("line ")


def test_transaction_redeclaring_its_namespace(tmp_path: Path) -> None:
    ns = NS.format(v="08")
    text = doc(tx(uetr="a"), tx(uetr="b").replace("<CdtTrfTxInf>", f'<CdtTrfTxInf xmlns="{ns}">'))
    rows, _ = _same_both_ways(write(tmp_path, text))
    assert [r["record_id"] for r in rows] == ["a", "b"]
    # in another namespace, all its elements: still read, as iterparse would
    other = tx(uetr="c").replace("<CdtTrfTxInf>", '<CdtTrfTxInf xmlns="urn:other">')
    rows, _ = _same_both_ways(write(tmp_path, doc(tx(uetr="a"), other)))
    assert [(r["record_id"], r["from_name"]) for r in rows] == [
        ("a", "John Smith"),
        ("c", "John Smith"),
    ]


_NOISE = st.sampled_from(
    ["<!-- c -->", "<![CDATA[x]]>", "&amp;", "&#233;", "\ue000", "  ", "<?pi x?>", "<Extra/>"]
)


@_PROPS
@given(mutated_doc(), st.lists(st.tuples(st.integers(0, 10**6), _NOISE), max_size=3))
def test_fast_and_slow_paths_agree(
    tmp_path: Path, case: tuple[str, int], noise: list[tuple[int, str]]
) -> None:
    text = case[0]
    for at, piece in noise:
        # insert between two elements (after a '>'), where any of these is legal
        gaps = [m.end() for m in re.finditer(">", text)]
        cut = gaps[at % len(gaps)]
        text = text[:cut] + piece + text[cut:]
    _same_both_ways(write(tmp_path, text))


def _read_with_assembly(path: Path, small_run: int) -> list[dict[str, str | None]]:
    saved = pacs008._SMALL_RUN
    pacs008._SMALL_RUN = small_run
    try:
        rows, rejected = read(path)
    finally:
        pacs008._SMALL_RUN = saved
    return rows + [{"location": r.location, "reason": r.reason} for r in rejected]


_SPACES = st.sampled_from([" ", "\t", "\n", "\u00a0", "\u2028", "\u3000", "\x85", "&#xE002;", ""])
_WORD = st.text(st.sampled_from("ab \u00e9"), max_size=4)
_VALUE = st.lists(st.one_of(_SPACES, _WORD), max_size=5).map("".join)


@_PROPS
@given(
    st.lists(
        st.tuples(st.lists(_VALUE, max_size=3), st.lists(_VALUE, max_size=3), _VALUE, _VALUE),
        min_size=1,
        max_size=4,
    )
)
def test_row_and_column_assembly_agree(
    tmp_path: Path, parties: list[tuple[list[str], list[str], str, str]]
) -> None:
    # Arrow kernels for big runs, Python for small ones: the same rows.
    txs = []
    for i, (lines, memo, street, name) in enumerate(parties):
        address = f"<StrtNm>{street}</StrtNm>" + "".join(f"<AdrLine>{x}</AdrLine>" for x in lines)
        debtor = f"<Dbtr><Nm>{name}</Nm><PstlAdr>{address}</PstlAdr></Dbtr>"
        rmt = "<RmtInf>" + "".join(f"<Ustrd>{x}</Ustrd>" for x in memo) + "</RmtInf>"
        txs.append(tx(uetr=f"u{i}", debtor=debtor, extra=rmt if memo else ""))
    p = write(tmp_path, doc(*txs))
    assert _read_with_assembly(p, 0) == _read_with_assembly(p, 10**9)
