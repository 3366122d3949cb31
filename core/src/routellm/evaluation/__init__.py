"""Evaluating routers on benchmarks: threshold sweeps, metrics, win-rate caching, reports and charts.

Every benchmark plugin gets all of this for free: it only supplies a
:class:`~routellm.benchmark.BenchmarkData`.
"""
