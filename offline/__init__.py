"""Runs the stack program under Pulumi mocks, offline (tests, synth, benchmarks)."""
