"""The command line: parse → load config → run."""
