"""Simulation of the SoC under cocotb + Verilator: model building (:mod:`.build`), running firmware (:mod:`.run`)
and the cocotb test module that runs inside the simulator (:mod:`.testbench`).

This package imports nothing heavy at import time: the testbench module is imported by the simulator's embedded
Python, which must not pay for Amaranth.
"""
