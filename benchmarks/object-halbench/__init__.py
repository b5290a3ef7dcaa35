"""The object-halbench benchmark (see README.md in this folder)."""
