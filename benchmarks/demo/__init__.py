"""The demo benchmark (see README.md in this folder)."""
