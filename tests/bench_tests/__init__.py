"""Tests of the benchmark's own logic (bench/): reading build logs, statistics, targets."""
