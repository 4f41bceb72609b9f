"""End-to-end tests: real renders through `render()`, `compare()` and the CLI, other processes,
a dask cluster, a browser; every test here is marked `slow` (see tests/conftest.py)."""
