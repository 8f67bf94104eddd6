"""Benchmark the pacs.008 reader: speed, CPU and peak memory, parse alone and into the store.

Generates pacs.008 files of realistic transactions (debtor and creditor with
address, birth date, contact, account and agent, remittance text) with a
string template. Each measurement runs in a fresh process, so its peak RSS is
its own:

* `parse`: `read_pacs008` alone (no DuckDB), on two file sizes: the rate, and
  a peak memory that must not grow with the file;
* `bare_iterparse`: lxml `iterparse` with a tag filter that only clears
  elements (no reading at all), the usual ceiling of a streaming reader;
* `ingest`: `ingest_file` of each file into a fresh DuckDB store, the
  end-to-end rate (parse, checks, normalisation, load) and its peak memory at
  two file sizes, which must be about the same (memory flat in file size).
  Repeated (`--repeat`, default 3): the median run by wall time is kept, with
  every run's wall and CPU seconds beside it.

Rates are given per wall-clock second and per CPU second (user + system of the
process and of its parser process): the machine is shared, so the load average
is recorded beside them. An ingest parses in a child process beside the one
that loads DuckDB; each process's own CPU seconds are given too
(`main_cpu_seconds`, `parser_process_cpu_seconds`): the larger one is the
critical path, the wall time two free cores would need. Peak RSS is given per
process (`peak_rss_mib` of the loading one, `parser_process_peak_rss_mib`).

    python bench/pacs008.py [--txns 200000] [--scale 4] [--repeat 3]

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


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its reaped children (the parser process)."""
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


def _measure(work: str, path: str) -> dict[str, float]:
    """Run one measurement in this process: rows, seconds, CPU seconds, peak RSS.
    Imports come first: the clock covers the work alone."""
    from lxml import etree

    from moneytrail.ingest import ingest_file
    from moneytrail.ingest.bundle import SourceFile
    from moneytrail.ingest.pacs008 import read_pacs008
    from moneytrail.store import Warehouse

    wall, (cpu, child_cpu) = time.perf_counter(), _cpu()
    rows = rejected = 0
    if work == "parse":
        for batch, rej in read_pacs008(path):
            rows += batch.num_rows
            rejected += len(rej)
    elif work == "bare_iterparse":
        tag = "{urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08}CdtTrfTxInf"
        for _, el in etree.iterparse(path, events=("end",), tag=tag):
            rows += 1
            el.clear(keep_tail=True)
            parent = el.getparent()
            while el.getprevious() is not None:
                del parent[0]
    else:  # ingest
        with tempfile.TemporaryDirectory() as tmp, Warehouse(Path(tmp) / "store.duckdb") as wh:
            src = Path(path)
            result = ingest_file(wh, SourceFile(src, src.name, "pacs008", "benchbank"))
            rows, rejected = result.loaded, result.quarantined
    seconds = time.perf_counter() - wall
    main_cpu, children_cpu = (
        after - before for after, before in zip(_cpu(), (cpu, child_cpu), strict=True)
    )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "rows": rows,
        "rejected": rejected,
        "seconds": seconds,
        "cpu_seconds": main_cpu + children_cpu,
        "main_cpu_seconds": main_cpu,
        "parser_process_cpu_seconds": children_cpu,
        "peak_rss_mib": peak_kib / 1024,
        "parser_process_peak_rss_mib": child_kib / 1024,
    }


def baseline_rss() -> float:
    """Peak RSS of a process that only imports the reader: the fixed cost."""
    code = (
        "import resource, moneytrail.ingest.pacs008;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    return float(subprocess.check_output([sys.executable, "-c", code], text=True))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(work: str, path: Path, n: int) -> dict[str, object]:
    """One measurement in a fresh process, with the load average around it."""
    before = _load()
    out = subprocess.check_output(
        [sys.executable, __file__, "--measure", work, str(path)], text=True
    )
    m = json.loads(out)
    assert m["rows"] == n, m
    size_mib = path.stat().st_size / 2**20
    result: dict[str, object] = {
        "work": work,
        "txns": n,
        "file_mib": round(size_mib, 1),
        "seconds": round(m["seconds"], 2),
        "cpu_seconds": round(m["cpu_seconds"], 2),
        "txns_per_second": round(n / m["seconds"]),
        "txns_per_cpu_second": round(n / m["cpu_seconds"]),
        "mib_per_second": round(size_mib / m["seconds"], 1),
        # critical path: each process's own CPU (the parser process's is 0 when parsing inline)
        "main_cpu_seconds": round(m["main_cpu_seconds"], 2),
        "parser_process_cpu_seconds": round(m["parser_process_cpu_seconds"], 2),
        "peak_rss_mib": round(m["peak_rss_mib"], 1),
        "parser_process_peak_rss_mib": round(m["parser_process_peak_rss_mib"], 1),
        "rejected": m["rejected"],
        "load_before": before,
        "load_after": _load(),
    }
    print(
        f"{work:>15} {n:>9,} txns {size_mib:7.1f} MiB {m['seconds']:7.2f} s "
        f"{result['txns_per_second']:>7,}/s wall {result['txns_per_cpu_second']:>7,}/s CPU "
        f"peak RSS {result['peak_rss_mib']:6.1f} MiB  load {before[0]} -> {result['load_after'][0]}"  # type: ignore[index]
        f"\n{'':>15} CPU s: main {m['main_cpu_seconds']:.2f}, parser process "
        f"{m['parser_process_cpu_seconds']:.2f} (peak RSS {m['parser_process_peak_rss_mib']:.0f} MiB)"
    )
    return result


def repeated(work: str, path: Path, n: int, repeat: int) -> dict[str, object]:
    """`run` `repeat` times; the median run by wall time, with all runs' figures."""
    runs = [run(work, path, n) for _ in range(repeat)]
    ordered = sorted(runs, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    median = dict(ordered[len(ordered) // 2])
    median["repeats"] = repeat
    median["all_seconds"] = [r["seconds"] for r in runs]
    median["all_cpu_seconds"] = [r["cpu_seconds"] for r in runs]
    median["all_main_cpu_seconds"] = [r["main_cpu_seconds"] for r in runs]
    median["all_parser_process_cpu_seconds"] = [r["parser_process_cpu_seconds"] for r in runs]
    median["all_peak_rss_mib"] = [r["peak_rss_mib"] for r in runs]
    median["all_parser_process_peak_rss_mib"] = [r["parser_process_peak_rss_mib"] for r in runs]
    median["all_load_before"] = [r["load_before"] for r in runs]
    return median


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--txns", type=int, default=200_000, help="transactions of the smaller file")
    ap.add_argument(
        "--scale", type=int, default=4, help="the larger file is this many times bigger"
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs of each ingest measurement")
    ap.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(_measure(*args.measure)))
        return

    results: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "import_only_peak_rss_mib": round(baseline_rss(), 1),
        "runs": [],
    }
    runs: list[dict[str, object]] = results["runs"]  # type: ignore[assignment]
    small, large = args.txns, args.txns * args.scale
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for n in (small, large):
            paths[n] = Path(tmp) / f"pacs008_{n}.xml"
            t0 = time.perf_counter()
            generate(paths[n], n)
            print(f"generated {n:,} transactions in {time.perf_counter() - t0:.1f} s")
        runs.append(run("bare_iterparse", paths[small], small))
        runs.append(run("parse", paths[small], small))
        runs.append(run("parse", paths[large], large))
        runs.append(repeated("ingest", paths[small], small, args.repeat))
        runs.append(repeated("ingest", paths[large], large, args.repeat))
    print(f"import-only peak RSS {results['import_only_peak_rss_mib']} MiB")
    out_path = Path(__file__).parent / "results" / "pacs008.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
