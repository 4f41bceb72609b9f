"""Where segments run: the `Backend` protocol, the local backend (in process, threads,
processes) and the Dask cluster (dispatch, remote). Imports segments, media and core."""
