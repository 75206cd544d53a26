# Two commands for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# Each creates .venv when missing, installs torch (pinned CPU build), the package with its extras
# and, when run as root, the Debian packages the project needs.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC := torch==2.13.0
EXTRAS := dev,bpe,flashlight,lhotse,vad
APT_PACKAGES := espeak-ng sox libsndfile1 fonts-dkg-handwriting fonts-bwht fonts-breip \
	fonts-kristi fonts-klee fonts-rufscript fonts-sjfonts fonts-comic-neue fonts-dancingscript \
	fonts-ecolier-court fonts-femkeklaver fonts-kaushanscript fonts-leckerli-one fonts-lobster \
	fonts-havana fonts-tlwg-purisa-ttf fonts-yusei-magic chromium \
	cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev
CSRC := $(shell find ctc/csrc -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' 2>/dev/null)
EXT_STAMP := build/.extension-built
KENLM_BIN := build/kenlm/bin
PYTEST_ARGS ?=
# install_package,EXTRAS: the package, editable, with EXTRAS (comma-separated); the extension is
# built apart (build), against the torch already installed
install_package = CAROUSEL_SKIP_EXT=1 $(PIP) install -q --no-build-isolation -e '.[$(1)]'

.PHONY: demo test test-slow test-all venv install-extra system-packages build kenlm-tools lint \
	bench bench-decode bench-score bench-train bench-transcribe bench-report bench-recognize clean

demo: $(EXT_STAMP)
	$(PY) tools/demo.py $(DEMO_ARGS)

test: $(EXT_STAMP) kenlm-tools
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-slow: $(EXT_STAMP) kenlm-tools
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

test-all: $(EXT_STAMP) kenlm-tools
	$(PY) -m pytest -q -m 'slow or not slow' $(PYTEST_ARGS)

venv: $(VENV)/.installed

system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq || true; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	      || for p in $$missing; do DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p \
	           || echo "warning: apt-get could not install $$p" >&2; done; \
	  else \
	    echo "warning: missing Debian packages (install them as root):" $$missing >&2; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml setup.py | system-packages
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel ninja
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q kenlm
	$(call install_package,$(EXTRAS))
	$(PIP) install -q --no-deps pyctcdecode pygtrie
	$(PIP) install -q --no-deps ocrd-validators || echo "warning: no ocrd-validators: the PAGE schema tests will be skipped" >&2
	touch $@

# one more optional extra into the existing .venv: make install-extra EXTRA=real-data (the
# recipes run it when a module of the extra is missing)
install-extra:
	@test -x $(PY) || { echo "install-extra: no $(PY) (make venv first)" >&2; exit 1; }
	@test -n "$(EXTRA)" || { echo "install-extra: name the extra: EXTRA=real-data" >&2; exit 2; }
	$(call install_package,$(EXTRA))

build: $(EXT_STAMP)

$(EXT_STAMP): $(VENV)/.installed $(CSRC) setup.py
	@mkdir -p build
	@echo "building ctc._C (ninja, incremental; log: build/extension.log)"
	@$(PY) setup.py build_ext --inplace > build/extension.log 2>&1 || \
	  { grep -E -B2 -A6 'error' build/extension.log | head -80; echo "extension build failed" >&2; exit 1; }
	$(PY) -c 'import ctc._C'
	@touch $@

# KenLM's lmplz and build_binary, for the tests that compare with them (skipped without them)
kenlm-tools: $(VENV)/.installed
	@mkdir -p build; PY=$(PY) tools/build_kenlm.sh $(dir $(KENLM_BIN)) 2>build/kenlm-build.log \
	  || echo "warning: could not build KenLM's programs (build/kenlm-build.log);" \
	          "the tests that compare with lmplz and build_binary will be skipped" >&2

lint: $(VENV)/.installed
	$(PY) -m ruff check .

bench: $(EXT_STAMP)
	$(PY) tools/bench_ctc.py

bench-decode: $(EXT_STAMP)
	$(PY) tools/bench_decode.py

bench-score: $(EXT_STAMP)
	$(PY) tools/bench_score.py

bench-train: $(EXT_STAMP)
	$(PY) tools/bench_train.py

bench-transcribe: $(EXT_STAMP)
	$(PY) tools/bench_transcribe.py

bench-recognize: $(EXT_STAMP)
	$(PY) tools/bench_recognize.py

# the report page (index.html) of 100k utterances in headless Chromium: size, load, filter, sort
bench-report: $(EXT_STAMP)
	$(PY) tools/bench_report.py

clean:
	rm -rf build ctc/_C*.so *.egg-info
