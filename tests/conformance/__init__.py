"""The conformance suite: every case of `programs.py` on every backend."""
