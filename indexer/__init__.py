"""Offline side of the service: load, clean and chunk submissions, then build the index."""
