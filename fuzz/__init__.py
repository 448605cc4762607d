"""Fuzz targets for Rempart's parsers of untrusted bytes, their seed corpus, and the runner.

A target is a module ``fuzz/targets/<name>.py`` with ``fuzz_one(data: bytes) -> None``: it feeds
``data`` to one parser and lets only Rempart's own errors (``RempartError``) through as expected;
anything else escaping is a bug. Its seeds are the files of ``fuzz/corpus/<name>/``.
``python fuzz/run.py`` fuzzes them (``make fuzz``); ``tests/test_fuzz.py`` replays the corpus.
"""
