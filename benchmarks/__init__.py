"""The nlpclf benchmark suite: ``make bench`` or ``python -m benchmarks.run --help``."""
