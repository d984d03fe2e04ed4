"""Reproducible measurements behind BENCHMARKS.md."""
