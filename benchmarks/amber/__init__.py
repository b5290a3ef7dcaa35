"""The amber benchmark (see README.md in this folder)."""
