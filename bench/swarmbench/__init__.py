"""swarmhook's benchmarks (`make bench`): figures, not pass/fail. They write JSON under
target/bench/ and print tables."""
