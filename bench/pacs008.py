"""Benchmark the streaming pacs.008 reader: speed and peak memory.

Generates pacs.008 files of realistic transactions (debtor and creditor with
address, birth date, contact, account and agent, remittance text) with a
string template, then parses each in a fresh process so its peak RSS is the
parser's alone. Two sizes show that memory does not grow with the file.

    python bench/pacs008.py [--txns 200000]

Prints the figures and writes them to bench/results/pacs008.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope>
  <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">
    <Fr><FIId><FinInstnId><BICFI>BANKGB2LXXX</BICFI></FinInstnId></FIId></Fr>
    <To><FIId><FinInstnId><BICFI>BANKPHMMXXX</BICFI></FinInstnId></FIId></To>
    <BizMsgIdr>BENCH</BizMsgIdr>
    <MsgDefIdr>pacs.008.001.08</MsgDefIdr>
    <CreDt>2026-03-01T10:00:00Z</CreDt>
  </AppHdr>
  <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">
    <FIToFICstmrCdtTrf>
      <GrpHdr>
        <MsgId>BENCH</MsgId>
        <CreDtTm>2026-03-01T10:00:00+00:00</CreDtTm>
        <NbOfTxs>{n}</NbOfTxs>
        <SttlmInf><SttlmMtd>INDA</SttlmMtd></SttlmInf>
      </GrpHdr>
"""

TX = """      <CdtTrfTxInf>
        <PmtId>
          <InstrId>I{i}</InstrId>
          <EndToEndId>E2E{i}</EndToEndId>
          <TxId>TX{i}</TxId>
          <UETR>00000000-0000-4000-8000-{i:012d}</UETR>
        </PmtId>
        <IntrBkSttlmAmt Ccy="USD">{amt}.00</IntrBkSttlmAmt>
        <IntrBkSttlmDt>2026-03-01</IntrBkSttlmDt>
        <AccptncDtTm>2026-03-01T02:{mm:02d}:09+08:00</AccptncDtTm>
        <InstdAmt Ccy="AUD">{amt}.50</InstdAmt>
        <ChrgBr>SHAR</ChrgBr>
        <Dbtr>
          <Nm>John Smith {i}</Nm>
          <PstlAdr>
            <StrtNm>George Street</StrtNm>
            <BldgNb>{bn}</BldgNb>
            <PstCd>2000</PstCd>
            <TwnNm>Sydney</TwnNm>
            <Ctry>AU</Ctry>
          </PstlAdr>
          <Id><PrvtId><DtAndPlcOfBirth><BirthDt>1971-05-02</BirthDt><CityOfBirth>Perth</CityOfBirth><CtryOfBirth>AU</CtryOfBirth></DtAndPlcOfBirth></PrvtId></Id>
          <CtctDtls><MobNb>+61-400111{bn:03d}</MobNb><EmailAdr>js{i}@example.com</EmailAdr></CtctDtls>
        </Dbtr>
        <DbtrAcct><Id><IBAN>GB33BUKB20201555{i:08d}</IBAN></Id></DbtrAcct>
        <DbtrAgt><FinInstnId><BICFI>BANKGB2LXXX</BICFI></FinInstnId></DbtrAgt>
        <CdtrAgt><FinInstnId><BICFI>BANKPHMMXXX</BICFI></FinInstnId></CdtrAgt>
        <Cdtr>
          <Nm>Maria Santos</Nm>
          <PstlAdr><AdrLine>12 Rizal St</AdrLine><AdrLine>Barangay 5</AdrLine><TwnNm>Cebu City</TwnNm><Ctry>PH</Ctry></PstlAdr>
          <CtctDtls><PhneNb>+63-9175550101</PhneNb></CtctDtls>
        </Cdtr>
        <CdtrAcct><Id><Othr><Id>PH{i:010d}</Id></Othr></Id></CdtrAcct>
        <Purp><Cd>GIFT</Cd></Purp>
        <RmtInf><Ustrd>for school {i}</Ustrd></RmtInf>
      </CdtTrfTxInf>
"""

FOOTER = """    </FIToFICstmrCdtTrf>
  </Document>
</Envelope>
"""


def generate(path: Path, n: int) -> None:
    """Write `n` transactions in chunks: generation itself needs little memory."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER.format(n=n))
        chunk: list[str] = []
        for i in range(n):
            chunk.append(TX.format(i=i, amt=20 + i % 500, mm=i % 60, bn=i % 997))
            if len(chunk) == 10_000:
                fh.write("".join(chunk))
                chunk.clear()
        fh.write("".join(chunk))
        fh.write(FOOTER)


def parse(path: str) -> dict[str, float]:
    """Parse one file (in this process) and report rows, time and peak RSS."""
    from moneytrail.ingest.pacs008 import read_pacs008

    start = time.perf_counter()
    rows = rejected = 0
    for batch, rej in read_pacs008(path):
        rows += batch.num_rows
        rejected += len(rej)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": rows, "rejected": rejected, "seconds": seconds, "peak_rss_mib": peak_kib / 1024}


def baseline_rss() -> float:
    """Peak RSS of a process that only imports the reader: the fixed cost."""
    code = (
        "import resource, moneytrail.ingest.pacs008;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    return float(subprocess.check_output([sys.executable, "-c", code], text=True))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--txns", type=int, default=200_000)
    ap.add_argument("--parse-only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.parse_only:
        print(json.dumps(parse(args.parse_only)))
        return

    results: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "import_only_peak_rss_mib": round(baseline_rss(), 1),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.txns // 4, args.txns):
            path = Path(tmp) / f"pacs008_{n}.xml"
            t0 = time.perf_counter()
            generate(path, n)
            gen_s = time.perf_counter() - t0
            out = subprocess.check_output(
                [sys.executable, __file__, "--parse-only", str(path)], text=True
            )
            run = json.loads(out)
            assert run["rows"] == n, run
            size_mib = path.stat().st_size / 2**20
            run.update(
                txns=n,
                file_mib=round(size_mib, 1),
                generate_seconds=round(gen_s, 2),
                txns_per_second=round(n / run["seconds"]),
                mib_per_second=round(size_mib / run["seconds"], 1),
            )
            run["seconds"] = round(run["seconds"], 2)
            run["peak_rss_mib"] = round(run["peak_rss_mib"], 1)
            results["runs"].append(run)  # type: ignore[union-attr]
            print(
                f"{n:>9,} txns  {size_mib:7.1f} MiB  {run['seconds']:6.2f} s  "
                f"{run['txns_per_second']:>8,} txns/s  {run['mib_per_second']:5.1f} MiB/s  "
                f"peak RSS {run['peak_rss_mib']:.1f} MiB"
            )
    print(f"import-only peak RSS {results['import_only_peak_rss_mib']} MiB")
    out_path = Path(__file__).parent / "results" / "pacs008.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
