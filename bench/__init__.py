"""Benchmarks for rag (issue #5): `make bench` (full, ~20 min) or `make bench-quick` (<1 min).

Each benchmark module has ``run(ctx) -> None`` and records its figures in ``ctx.results``;
`bench/run.py` runs them in order and writes bench/results.json. See bench/RESULTS.md.
"""
