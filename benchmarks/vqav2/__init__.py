"""The vqav2 benchmark (see README.md in this folder)."""
