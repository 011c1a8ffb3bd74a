"""Fuse: a compiler for tensor logic."""
