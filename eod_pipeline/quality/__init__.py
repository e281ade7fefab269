"""Data-quality checks on the stored warehouse data."""
