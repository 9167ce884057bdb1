"""Batch analysis of many nights on a process pool or a Dask cluster."""
