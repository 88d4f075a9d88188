"""Data sources: the built-in demo generator and file readers."""
