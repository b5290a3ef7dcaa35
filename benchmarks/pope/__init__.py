"""The pope benchmark (see README.md in this folder)."""
