"""Benchmarks: run by hand (python tests/perf/bench.py), never collected by pytest."""
