"""The mhumaneval benchmark (see README.md in this folder)."""
