"""Tests of the test harness itself (tests/harness): servers, package index, runtimes."""
