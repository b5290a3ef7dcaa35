"""The mmhal-bench benchmark (see README.md in this folder)."""
