"""Load on the bounded line (issue 16): 16 `gradio_client` users ask without pause for a bounded time.

The server runs in a process of its own (so its memory is measured alone), over the fake
embedder and a stand-in model that takes a fixed time per token: the figures measure the
serving (gate, queue, HTTP), not the 2 shared cores' LLM speed. Every reply must be an answer
to its own question or the "busy" refusal, and the server's memory must not grow from start
to end. Figures are printed: answers, busy replies, p50/p95 wait, the server's RSS.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import psutil
import pytest

from .conftest import ROOT
from .servers import free_port

pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402

CLIENTS = 16
ASK_FOR_S = 40  # clients start new questions for this long ...
BOUND_S = 60  # ... and everything, last answers included, is over by this
WARM_REPLIES = 32  # the reference memory reading is the first after this many replies: sessions open, lazy imports
# done (Gradio imports matplotlib at its first event), caches warm
RSS_TOLERANCE = 0.10
BACKOFF_S = 1.0  # a client told "busy" asks again after this, as a person would "in a moment"
# The server: the five articles over the fake embedder, a model taking 20 ms a token, default limits.
SERVER = """
import sys
from rag import RAG, Config
from tests.conftest import HashEmbedder
from tests.servers import SlowGenerator
from ui.app import build_app, launch
docs, index, port = sys.argv[1:]
rag = RAG.build(config=Config(docs_dir=docs, index_dir=index), embedder=HashEmbedder(),
                generator=SlowGenerator(per_token_s=0.02, tokens=10))
print(launch(build_app(rag), port=int(port), block=False), flush=True)
sys.stdin.read()  # serve until the test closes stdin
"""
QUESTIONS = ["Who killed Hamedani?", "Where did the Russian cruise missiles crash?",
             "How many sorties did Russian aircraft carry out?", "Who is John Kerry's Russian counterpart?"]


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waits: list[float] = []  # seconds from sending a question to its answer
        self.busy: list[float] = []  # seconds from sending a question to the "busy" reply
        self.errors: list[str] = []

    def add(self, kind: str, value) -> None:
        with self.lock:
            getattr(self, kind).append(value)

    def replies(self) -> int:
        with self.lock:
            return len(self.waits) + len(self.busy) + len(self.errors)


def run_client(url: str, n: int, stop_at: float, bound_at: float, tally: Tally) -> None:
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 30})
    try:
        i = 0
        while time.monotonic() < stop_at:
            question = f"{QUESTIONS[(n + i) % len(QUESTIONS)]} (client {n}, question {i})"
            i += 1
            started = time.monotonic()
            try:
                data = client.submit(question, api_name="/ask").result(timeout=max(bound_at - started, 1))
            except Exception as exc:  # counted and shown at the end, each one
                if "busy, try again in a moment" in str(exc):
                    tally.add("busy", time.monotonic() - started)
                    time.sleep(BACKOFF_S)
                else:
                    tally.add("errors", f"{question!r}: {type(exc).__name__}: {exc}")
                continue
            if data.get("question") != question:
                tally.add("errors", f"asked {question!r}, got the answer to {data.get('question')!r}")
            else:
                tally.add("waits", time.monotonic() - started)
    finally:
        client.close()


@pytest.fixture
def server(corpus, tmp_path):
    """(URL, psutil.Process) of the server process; stopped afterwards."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(corpus), str(tmp_path / "index"), str(free_port())],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()  # the server prints its URL once it listens
        assert url.startswith("http://127.0.0.1:"), f"the server did not start: {url!r}"
        yield url, psutil.Process(proc.pid)
    finally:
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
def test_16_clients_for_a_bounded_minute_get_answers_or_busy_and_memory_stays_flat(server):
    url, process = server
    tally, samples = Tally(), []
    started = time.monotonic()
    stop_at, bound_at = started + ASK_FOR_S, started + BOUND_S - 5
    with ThreadPoolExecutor(CLIENTS, thread_name_prefix="load-client") as pool:
        futures = [pool.submit(run_client, url, n, stop_at, bound_at, tally) for n in range(CLIENTS)]
        while time.monotonic() < stop_at and not all(f.done() for f in futures):
            samples.append((time.monotonic() - started, tally.replies(), process.memory_info().rss))
            time.sleep(1)
        done, stuck = wait(futures, timeout=max(bound_at - time.monotonic(), 1))
    elapsed = time.monotonic() - started
    rss_end = process.memory_info().rss
    tally.errors += [f"client thread: {f.exception()!r}" for f in done if f.exception()]
    base_at, base = next(((at, rss) for at, replies, rss in samples if replies >= WARM_REPLIES), (None, None))
    mb = 2**20
    answers, busy = len(tally.waits), len(tally.busy)
    print(f"\nserve load: {CLIENTS} clients for {ASK_FOR_S} s ({elapsed:.0f} s in all): {answers} answers "
          f"({answers / elapsed:.1f}/s), {busy} busy replies, {len(tally.errors)} errors; wait for an answer "
          f"p50 {statistics.median(tally.waits) if tally.waits else float('nan'):.2f} s, "
          f"p95 {percentile(tally.waits, 0.95):.2f} s, max {max(tally.waits, default=float('nan')):.2f} s; "
          f"busy reply p50 {percentile(tally.busy, 0.5) * 1000:.0f} ms, p95 {percentile(tally.busy, 0.95) * 1000:.0f} ms; "
          f"server RSS {base / mb if base else float('nan'):.0f} MB after {WARM_REPLIES} replies "
          f"({base_at or float('nan'):.0f} s), {rss_end / mb:.0f} MB at the end "
          f"({(rss_end - base) / base if base else float('nan'):+.1%}), peak {max(r for *_, r in samples) / mb:.0f} MB; "
          f"every 5 s: {' '.join(f'{r / mb:.0f}' for *_, r in samples[::5])} MB", flush=True)

    assert not stuck and elapsed <= BOUND_S, f"{len(stuck)} clients were still waiting after {elapsed:.0f} s"
    assert not tally.errors, f"{len(tally.errors)} replies were neither answers nor busy, e.g.:\n" + "\n".join(
        tally.errors[:5])
    assert answers >= 2 * CLIENTS and busy > 0  # the line filled up, and it kept answering
    # "Busy" comes at once, not after a wait in line: faster than most answers even with every core taken.
    # (Quiet, it takes tens of ms; tests/test_serving.py asserts under a second.)
    assert percentile(tally.busy, 0.95) < statistics.median(tally.waits)
    assert base is not None and abs(rss_end - base) <= RSS_TOLERANCE * base, (
        f"the server's RSS went from {base / mb:.0f} MB after {WARM_REPLIES} replies to {rss_end / mb:.0f} MB at the end")
