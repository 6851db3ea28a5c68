"""The development harness around the platform: simulators, demo, benchmarks, reliability."""
