# `make demo` and `make test` each set everything up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first, pinned to the 2.13.0 CPU build the registry serves here, so that no later
# requirement (ours or a dependency's) pulls a newer torch with its CUDA packages.
# Sionna RT's Dr.Jit needs LLVM >= 16 for its CPU backend; Debian 12's default LLVM 15 crashes
# it ("Cannot select ... fmaximum"). Install libllvm19 where apt-get can (root, or sudo).
LLVM_LIB := libLLVM.so.19

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[learn,test,distributed,raytrace]'
	@if ! ldconfig -p 2>/dev/null | grep -q '$(LLVM_LIB)' && command -v apt-get >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ( $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libllvm19 ) \
	    || echo "warning: could not install libllvm19: the raytrace engine's tests will be skipped"; \
	fi
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH bash examples/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests

# Every benchmark, each rewriting its fragment in benchmarks/results/ (tens of minutes).
BENCHMARKS := simulate heatmap cfar statistical distributed mcl
bench: $(STAMP)
	$(BIN)/pip install -e '.[bench]'
	set -e; for b in $(BENCHMARKS); do $(BIN)/python benchmarks/bench_$$b.py; done

lint: $(STAMP)
	$(BIN)/ruff check radarsp radarsp_learn cli tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info demo-out
