"""Client verdicts (``mcpchaos judge``): the built-in client scenarios (fault profiles, data),
what the proxy saw of a client (read from its history), the verdicts (pure functions over it)
and the runner that starts the target and the client once per scenario. docs/judge.md."""
