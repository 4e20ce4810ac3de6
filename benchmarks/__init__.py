"""Benchmarks: the real bot against the project's loopback fakes, side by side with a bare bot.

Run `python -m benchmarks.run` (or `--quick`); see benchmarks/run.py.
"""
