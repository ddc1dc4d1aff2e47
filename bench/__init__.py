"""Reproducible benchmarks (run as scripts: ``python bench/<name>.py``); never timed tests."""
