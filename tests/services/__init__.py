"""Real local servers that tests and benchmarks start and stop themselves."""
