"""Matching: the hash index (multi-index hashing, exact) and the hash banks it searches."""
