"""Benchmarks (not part of the installed package): run them as `python -m bench.<name>` from the repository root."""
