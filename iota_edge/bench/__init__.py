"""Benchmarks that measure their peers in the same run: ``python -m iota_edge.bench {core,pow} [--quick] [--json]``."""
