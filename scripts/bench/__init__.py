"""`make bench`: the performance suite (see docs/benchmarks.md). Each module measures one goal;
every figure is a ratio against a baseline measured in the same run, or a percentile."""
