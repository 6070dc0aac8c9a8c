"""The fuzz suite (issue 17, "Keep them shut"): hypothesis strategies for JSON-RPC messages,
NDJSON lines and HTTP requests (``messages.py``, ``lines.py``, ``requests.py``), run against one
long-lived real proxy per module over real pipes (``stdio_peer.py``) and real HTTP
(``http_peer.py``), each input carrying what the proxy owes for it.

CI runs a bounded, derandomized number of examples (``test_*.py``, ≤ 60 s together); the long
mode (``python -m bench.fuzz``) and the soak (``python -m bench.soak``) drive the same
strategies and checks for minutes. ``atheris_framers.py`` is an optional coverage-guided target
for the framers and ``parse`` (needs ``pip install atheris``; CI never does).
"""
