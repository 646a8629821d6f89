"""Cold start: `rag ask "..."` in a fresh process, from exec to its first streamed output.

The command runs on a pseudo-terminal, as a person would see it, so rich's live display shows
the draft as it streams; "first output" is the first visible character (escape sequences and
whitespace ignored), i.e. the first generated token, or the final answer when the model is not
run. The time to exit (whole answer, sources printed) is reported beside it. The baseline is
bench/coldstart_bare.py: the same models, index file and question with the raw libraries and
nothing else (no BM25, no checks), measured the same way.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from .common import ENV, ROOT, VENV_BIN, Context, log, median

QUESTION = "Who is the Pentagon spokesman quoted about the train-and-equip programme?"
_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]|[\x00-\x20\r\n]")


def first_output(cmd: list[str], timeout: float = 120.0) -> tuple[float, float, str]:
    """(seconds to the first visible character, seconds to exit, everything printed) on a pty."""
    master, slave = pty.openpty()
    env = {**ENV, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=ROOT, env=env, close_fds=True)
    os.close(slave)
    first, output = 0.0, b""
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            output += data
            if not first and _ESCAPES.sub(b"", output):
                first = time.perf_counter() - start
        proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - start)))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}: {output[-2000:].decode('utf-8', 'replace')}")
    return first, time.perf_counter() - start, output.decode("utf-8", "replace")


def run(ctx: Context) -> None:
    r = ctx.results
    r.section("4. cold start")
    index = ctx.seed_index()
    cmd = [str(VENV_BIN / "rag"), "ask", "--index", str(index), QUESTION]
    runs = 1 if ctx.quick else 3
    # The model files are in the page cache already (the benchmarks before this one read them):
    # this measures a fresh process, not a cold disk.
    log(f"rag ask and the raw-library baseline in fresh processes x {runs}, alternating")
    from rag.models import resolve
    from rag.stores.faiss import live_version

    config = ctx.config
    bare = [str(VENV_BIN / "python"), str(ROOT / "bench" / "coldstart_bare.py"), str(live_version(index)),
            resolve(config.llm, config.cache_dir), ctx.embedder.path, QUESTION]
    ours, plain = [], []
    for i in range(runs):
        pair = [(ours, cmd), (plain, bare)]
        for sink, command in pair if i % 2 == 0 else pair[::-1]:
            sink.append(first_output(command))
    r.add("coldstart.first_output_s", median(s[0] for s in ours), "s", ("<=", 5.0),
          note="exec of `rag ask` to its first streamed token on a terminal")
    r.compare("coldstart.first_output_s", median(s[0] for s in ours), median(s[0] for s in plain), "s",
              "raw libraries (bench/coldstart_bare.py)", higher_is_better=False)
    r.add("coldstart.exit_s", median(s[1] for s in ours), "s", note="to the end of the answer and its sources")
