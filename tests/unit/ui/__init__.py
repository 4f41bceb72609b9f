"""Fast tests of the notebook components, one file per module of `renderrush.ui` (test_<module>.py)."""
