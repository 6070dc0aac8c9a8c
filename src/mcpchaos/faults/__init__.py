"""Fault injection: one module per fault kind, each a pure decision; the framework
(``base``, ``match``, ``rng``, ``injector``) owns probability, targeting and randomness."""
