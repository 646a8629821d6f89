"""What every benchmark shares: timing, the corpora, measured subprocesses and the results table.

Timings are medians (and p95) over several runs after a warm-up; a figure that is compared
with a raw baseline is measured in the same run, interleaved with it so that load from other
processes falls on both alike.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.figures import figure, percentile

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"  # scratch: corpora, indexes, vectors (git-ignored)
RESULTS = ROOT / "bench" / "results.json"
VENV_BIN = ROOT / ".venv" / "bin"
ARTICLES = ROOT / "data" / "articles"
QUESTIONS = ROOT / "eval_questions.yaml"
PYDOCS = Path("/usr/share/doc/python3.11/html")
PYDOCS_PACKAGE = "python3.11-doc"
PYDOCS_MAX_BYTES = 100_000  # pages above this are generated indexes and long references; left out of the sample
PYDOCS_STRIDE = 8  # full run: every 8th page (by path) of those under the size cap
QUICK_PAGES = 3  # quick run: this many pages of the full sample

# The Makefile exports these; set them too when a benchmark is run by hand.
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
       "TRANSFORMERS_VERBOSITY": "error", "TOKENIZERS_PARALLELISM": "false"}
os.environ.update({k: v for k, v in ENV.items() if k not in os.environ})


def log(message: str) -> None:
    """Progress for the person watching (stderr, so stdout stays the results table)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- timing ------------------------------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    return percentile(values, 50)


def seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(a: Callable[[], Any], b: Callable[[], Any], rounds: int, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time ``a`` and ``b`` alternately (a b, b a, a b, ...) after ``warmup`` untimed rounds of each."""
    for _ in range(warmup):
        a()
        b()
    times_a, times_b = [], []
    for i in range(rounds):
        if i % 2 == 0:
            times_a.append(seconds(a))
            times_b.append(seconds(b))
        else:
            times_b.append(seconds(b))
            times_a.append(seconds(a))
    return times_a, times_b


# -- results -------------------------------------------------------------------------------------

@dataclass
class Results:
    """Figures by name (written to results.json) and the lines of the printed table."""

    values: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def add(self, name: str, value: Any, unit: str = "", target: tuple[str, float] | None = None, note: str = "") -> Any:
        """Record one figure; ``target`` is ("<=", 20.0) or (">=", 0.95)."""
        self.values[name] = _round(value)
        text = f"{name:<44} {figure(value)} {unit}".rstrip()
        if target is not None:
            op, limit = target
            met = bool(value <= limit) if op == "<=" else bool(value >= limit)
            self.targets[name] = {"target": f"{op} {limit:g} {unit}".strip(), "met": met}
            text += f"   target {op} {limit:g}: {'met' if met else 'MISSED'}"
        if note:
            text += f"   ({note})"
        self.lines.append(text)
        print(text, flush=True)
        return value

    def compare(self, name: str, project: float, baseline: float, unit: str, baseline_name: str,
                higher_is_better: bool = True, target: float | None = None) -> float:
        """Record the project's figure, the raw baseline's and their ratio (1.0 = as fast as the baseline).

        For rates the ratio is project/baseline; for times it is baseline/project, so above 1
        always means rag is faster.
        """
        ratio = project / baseline if higher_is_better else baseline / project
        self.values[f"{name}.rag"] = _round(project)
        self.values[f"{name}.baseline"] = _round(baseline)
        self.add(f"{name}.ratio", ratio, "", (">=", target) if target is not None else None,
                 f"rag {figure(project)} {unit} vs {baseline_name} {figure(baseline)} {unit}")
        return ratio

    def section(self, title: str) -> None:
        self.lines.append(f"\n== {title}")
        print(f"\n== {title}", flush=True)

    def skip(self, missing: Missing) -> None:
        """Say that the rest of the current benchmark did not run, and why."""
        text = f"skipped the rest of this benchmark: {missing}"
        self.lines.append(text)
        print(text, flush=True)


def _round(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return round(value, 4) if abs(value) < 100 else round(value, 1)
    if isinstance(value, np.integer):
        return int(value)
    return value


def save(results: Results, path: Path, meta: dict[str, Any], merge: bool, label: str = "") -> None:
    """Write figure name -> value; ``merge`` keeps figures of benchmarks not run this time.

    The run's description goes under "_meta", or "_meta.<label>" for a partial run merged in.
    """
    data: dict[str, Any] = {}
    if merge and path.is_file():
        data = json.loads(path.read_text())
    targets = {**data.get("_targets", {}), **results.targets}
    data.update(results.values)
    data["_targets"] = targets
    data[f"_meta.{label}" if label else "_meta"] = meta
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
    os.replace(tmp, path)


# -- the machine -----------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "rag"))
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "commit": commit + ("+uncommitted rag/ changes" if dirty else ""),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def peak_rss_self() -> int:
    """Peak resident memory of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str


# A small launcher between us and the measured command: Linux carries a parent's peak RSS into
# a child across fork+exec, so the child's own peak is only right when its parent is small.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - start} {usage.ru_maxrss * 1024}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(cmd: list[str], timeout: float = 3600, cwd: Path = ROOT) -> Run:
    """Run ``cmd`` to completion: its wall time and its own peak RSS (os.wait4 in a small launcher)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".txt") as figures:
        proc = subprocess.run([sys.executable, "-c", _LAUNCHER, figures.name, *cmd], stdout=out, stderr=err,
                              stdin=subprocess.DEVNULL, cwd=cwd, env=ENV, timeout=timeout)
        elapsed, peak = (float(x) for x in (open(figures.name).read().split() or ["nan", "0"]))
        out.seek(0)
        err.seek(0)
        return Run(elapsed, int(peak), proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"))


# -- corpora ------------------------------------------------------------------------------------------

class Missing(Exception):  # noqa: N818 - a part of a benchmark that cannot run here, not a failure
    """Something a benchmark needs is not on this machine; the message says what, in one sentence."""


def require_pydocs() -> None:
    """Debian's Python 3.11 HTML documentation, a real corpus nobody here wrote; Missing if it is not installed."""
    if not PYDOCS.is_dir():
        raise Missing(f"the Python documentation ({PYDOCS}) is not installed; the Debian package {PYDOCS_PACKAGE} has it")


def pydocs_sample(quick: bool) -> list[Path]:
    """A fixed, spread-out sample of the documentation pages (see PYDOCS_STRIDE)."""
    require_pydocs()
    pages = sorted(p for p in PYDOCS.rglob("*.html") if p.stat().st_size <= PYDOCS_MAX_BYTES)
    sample = pages[::PYDOCS_STRIDE]
    return sorted(sample, key=lambda p: p.stat().st_size)[:QUICK_PAGES] if quick else sample


def docs_corpus(quick: bool) -> Path:
    """A folder with the seed articles plus the documentation sample, flattened to unique names.

    library/os.html -> library__os.html (rag uses the file stem as the document id).
    """
    target = OUT / ("corpus-quick" if quick else "corpus")
    wanted = {p.name: p for p in ARTICLES.iterdir() if p.is_file()}
    wanted.update({str(p.relative_to(PYDOCS)).replace("/", "__"): p for p in pydocs_sample(quick)})
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.name not in wanted:
            old.unlink()
    for name, source in wanted.items():
        copy = target / name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)
    return target


def gold_questions(limit: int | None = None) -> list[str]:
    from rag.evaluate import load_questions

    questions = [q.question for q in load_questions(QUESTIONS)]
    # A spread, not the first few: the file opens with "Who is the <title>?" questions, which skip the model.
    return questions[::max(1, len(questions) // limit)][:limit] if limit else questions


# Questions a reader of the Python documentation might ask (latency only; no gold answers).
PYDOCS_QUESTIONS = [
    "How do I read a file line by line?",
    "What does the with statement do?",
    "How can I sort a list of dictionaries by a key?",
    "What is the difference between a list and a tuple?",
    "How do I start a subprocess and read its output?",
    "How do I parse command line arguments?",
    "What does the global interpreter lock do?",
    "How do I format a date as a string?",
    "How can I make an HTTP request with the standard library?",
    "What is a generator expression?",
    "How do I create a virtual environment?",
    "How do I handle exceptions and clean up resources?",
    "What does functools.lru_cache do?",
    "How do I join paths portably?",
    "How do I run code in parallel threads?",
    "What encodings does the codecs module support?",
    "How do I write a unit test?",
    "What is a descriptor?",
    "How can I compress data with gzip?",
    "How do I serialise an object to JSON?",
]


# -- the run's shared state -------------------------------------------------------------------------------

@dataclass
class Context:
    """Passed to every benchmark: the mode, the results and the models loaded once."""

    quick: bool
    results: Results
    scale_size: int | None = None
    _embedder: Any = None

    @property
    def embedder(self):
        if self._embedder is None:
            from rag import Config
            from rag.embed import SentenceTransformerEmbedder

            config = Config.load()
            self._embedder = SentenceTransformerEmbedder(config.embedder, config.embed_batch, config.n_threads)
            self._embedder.model  # noqa: B018 - load now, outside any timed region
        return self._embedder

    @property
    def config(self):
        from rag import Config

        return Config.load()

    def seed_index(self) -> Path:
        """An index of the seed articles (data/articles), built or updated in place."""
        return self._index(ARTICLES, OUT / "index-seed")

    def docs_index(self) -> Path:
        """The large index (articles + documentation sample); bench_index builds it, or it is built here."""
        return self._index(docs_corpus(self.quick), OUT / ("index-docs-quick" if self.quick else "index-docs"))

    def _index(self, docs: Path, index: Path) -> Path:
        from rag.indexing import build_index

        config = self.config.with_values({"docs_dir": str(docs), "index_dir": str(index)})
        report = build_index(config, self.embedder)
        if report.written:
            log(f"built {index}: {report.documents} documents, {report.chunks} passages")
        return index
