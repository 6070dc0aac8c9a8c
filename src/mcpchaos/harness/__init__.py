"""The chaos harness: load drivers, scenarios, verdicts, the run journal and reports."""
