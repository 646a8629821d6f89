"""Run the benchmarks of issues #5 and #15 and write their figures to bench/results.json.

    .venv/bin/python bench/run.py                 # full run (`make bench`, ~20 min on 2 busy cores)
    .venv/bin/python bench/run.py --quick         # smoke-sized run (`make bench-quick`, < 1 min)
    .venv/bin/python bench/run.py --only scale --scale-size 1000000

A full run writes bench/results.json (figure name -> value, with "_targets" and the run's
"_meta"); --only merges its figures into that file, its description under "_meta.<names>". A
quick run writes bench/out/results-quick.json so it never overwrites the figures RESULTS.md quotes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `bench` and `rag` importable

from bench import (  # noqa: E402
    bench_coldstart,
    bench_embed,
    bench_generate,
    bench_index,
    bench_milvus,
    bench_pdf,
    bench_retrieve,
    bench_scale,
)
from bench.common import OUT, RESULTS, Context, Missing, Results, log, machine, save  # noqa: E402

BENCHMARKS = {
    "index": bench_index.run,
    "retrieve": bench_retrieve.run,
    "generate": bench_generate.run,
    "coldstart": bench_coldstart.run,
    "scale": bench_scale.run,
    "milvus": bench_milvus.run,
    "pdf": bench_pdf.run,
    "embed": bench_embed.run,
}


def run_benchmarks(ctx: Context, names: list[str], meta: dict) -> None:
    """Run the named benchmarks in turn; one that lacks something on this machine says so and the next runs."""
    for name in names:
        began = time.perf_counter()
        try:
            BENCHMARKS[name](ctx)
        except Missing as missing:
            ctx.results.skip(missing)
            meta[f"skipped_{name}"] = str(missing)
        log(f"{name} took {time.perf_counter() - began:.0f} s")
        meta[f"seconds_{name}"] = round(time.perf_counter() - began, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, under a minute")
    p.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run just these benchmarks")
    p.add_argument("--scale-size", type=int, help="passages in the scale benchmark (default 200,000; quick 20,000)")
    p.add_argument("--out", type=Path, help="results file (default bench/results.json; quick: bench/out/results-quick.json)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    for noisy in ("bm25s", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    OUT.mkdir(parents=True, exist_ok=True)
    out = args.out or (OUT / "results-quick.json" if args.quick else RESULTS)
    meta = machine()
    meta["mode"] = "quick" if args.quick else "full"
    if args.scale_size:
        meta["scale_size"] = args.scale_size
    print(f"rag benchmarks ({meta['mode']}) {meta['date']}: {meta['nproc']} CPUs ({meta['cpu']}), "
          f"{meta['ram_gib']} GiB RAM, load average {meta['load_before']}", flush=True)
    ctx = Context(quick=args.quick, results=Results(), scale_size=args.scale_size)
    started = time.perf_counter()
    run_benchmarks(ctx, args.only or list(BENCHMARKS), meta)
    meta["seconds_total"] = round(time.perf_counter() - started, 1)
    meta["load_after"] = [round(x, 2) for x in os.getloadavg()]
    save(ctx.results, out, meta, merge=bool(args.only), label="+".join(args.only or []))
    missed = [name for name, t in ctx.results.targets.items() if not t["met"]]
    print(f"\n{len(ctx.results.targets) - len(missed)}/{len(ctx.results.targets)} targets met"
          + (f"; missed: {', '.join(missed)}" if missed else "")
          + f". {meta['seconds_total']:.0f} s; load average before {meta['load_before']}, after {meta['load_after']}."
          f" Figures in {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
