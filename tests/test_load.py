"""Load: 8 `gradio_client` users send 40 questions to one in-process server over the real models.

Every answer must belong to its own question, every citation must be a verbatim span of its article,
no request may fail, and memory must not grow per request. Timings are printed, never asserted:
the machine is shared and the model answers one request at a time.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait

import psutil
import pytest

from .conftest import KNOWN_ANSWERS, article, free_port, is_span, names_one_of

pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402

from ui.app import build_app, launch  # noqa: E402

CYCLE = list(KNOWN_ANSWERS)  # the default reader answers each of them right (tests/conftest.py)
CLIENTS, PER_CLIENT = 8, 5
TOTAL = CLIENTS * PER_CLIENT
BASELINE_AFTER = 10  # answers before the reference memory reading: models loaded, caches warm
RSS_TOLERANCE = 0.10
# A bound against hangs, not a speed check: answers go one at a time through one model on 2 shared cores.
# The 1.5B reader answers one in about 5-10 s here; 40 in line take about 5 minutes.
DEADLINE_S = 20 * 60
# gradio_client's HTTP calls default to httpx's 5 s timeout; joining the queue can take longer than that
# when the server shares 2 busy cores with the model, and that is slowness, not an error.
HTTP_TIMEOUT_S = 120


class Tally:
    """What the client threads saw; the reference RSS is read when the BASELINE_AFTER-th answer arrives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answers: list[tuple[str, dict, float]] = []  # (question, /ask result, seconds seen by the client)
        self.errors: list[str] = []
        self.rss_baseline: int | None = None

    def answered(self, question: str, data: dict, seconds: float) -> None:
        with self.lock:
            self.answers.append((question, data, seconds))
            if len(self.answers) == BASELINE_AFTER:
                self.rss_baseline = psutil.Process().memory_info().rss

    def failed(self, question: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{question!r}: {type(exc).__name__}: {exc}")


def run_client(url: str, n: int, deadline: float, tally: Tally) -> None:
    """User n sends requests n, n+8, n+16, ... of the cycle, so concurrent users ask different questions."""
    client = Client(url, verbose=False, httpx_kwargs={"timeout": HTTP_TIMEOUT_S})
    try:
        for i in range(PER_CLIENT):
            question = CYCLE[(n + CLIENTS * i) % len(CYCLE)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # the main thread reports the shortfall as a missed deadline
            started = time.perf_counter()
            try:
                data = client.submit(question, api_name="/ask").result(timeout=remaining)
            except Exception as exc:  # every failure is counted and shown at the end, not only the first
                tally.failed(question, exc)
            else:
                tally.answered(question, data, time.perf_counter() - started)
    finally:
        client.close()


def problems(question: str, data: dict) -> list[str]:
    """What is wrong with one /ask result for ``question``; [] if it is right."""
    aliases, out = KNOWN_ANSWERS[question], []
    if data.get("question") != question:
        out.append(f"asked {question!r}, got the result for {data.get('question')!r}")
    if aliases is None:
        if not data["abstained"] or data["citations"]:
            out.append(f"{question!r} should abstain: {data['answer']!r}")
    elif data["abstained"] or not names_one_of(data["answer"], aliases):
        out.append(f"{question!r} needs one of {aliases}: {data['answer']!r}")
    for c in data["citations"]:
        if not is_span(article(c["doc_id"]), c):
            out.append(f"{question!r}: citation [{c['key']}] is not {c['doc_id']}[{c['start']}:{c['end']}]")
    return out


@pytest.mark.slow
def test_40_questions_from_8_concurrent_clients(real_rag):
    app = build_app(real_rag)
    url = launch(app, port=free_port(), block=False)
    tally, pool = Tally(), ThreadPoolExecutor(CLIENTS, thread_name_prefix="load-client")
    started = time.monotonic()
    try:
        futures = [pool.submit(run_client, url, n, started + DEADLINE_S, tally) for n in range(CLIENTS)]
        done, stuck = wait(futures, timeout=DEADLINE_S + 60)  # result() timeouts end the threads by then
        rss_final = psutil.Process().memory_info().rss
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        app.close()
    elapsed = time.monotonic() - started
    tally.errors += [f"client thread: {type(f.exception()).__name__}: {f.exception()}" for f in done if f.exception()]

    latencies = [seconds for _, _, seconds in tally.answers]
    served = [data["timings"]["total_ms"] / 1000 for _, data, _ in tally.answers]
    base = tally.rss_baseline
    mb = 2**20
    print(f"\nload: {len(tally.answers)} answers, {len(tally.errors)} errors, "
          f"p50 latency {statistics.median(latencies) if latencies else float('nan'):.1f} s "
          f"(server p50 {statistics.median(served) if served else float('nan'):.1f} s), "
          f"RSS {base / mb if base else float('nan'):.0f} MB after {BASELINE_AFTER}, "
          f"{rss_final / mb:.0f} MB after {len(tally.answers)} "
          f"({(rss_final - base) / base if base else float('nan'):+.1%}), {elapsed:.0f} s", flush=True)

    answered = len(tally.answers) + len(tally.errors)
    assert not stuck and answered >= TOTAL, (
        f"the load test missed its {DEADLINE_S / 60:g}-minute deadline: {len(tally.answers)} of {TOTAL} answered, "
        f"{len(tally.errors)} errors, {len(stuck)} client threads still waiting")
    assert not tally.errors, f"{len(tally.errors)} requests failed, e.g.: " + "\n".join(tally.errors[:5])
    assert Counter(q for q, _, _ in tally.answers) == Counter({q: TOTAL // len(CYCLE) for q in CYCLE})

    wrong = [p for question, data, _ in tally.answers for p in problems(question, data)]
    assert not wrong, f"{len(wrong)} wrong answers or citations, e.g.:\n" + "\n".join(wrong[:5])

    assert base is not None
    assert abs(rss_final - base) <= RSS_TOLERANCE * base, (
        f"RSS went from {base / mb:.0f} MB after {BASELINE_AFTER} answers to {rss_final / mb:.0f} MB after {TOTAL}")
