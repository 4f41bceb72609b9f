"""Fast tests of one `renderrush` module each, named after it (test_<module>.py)."""
