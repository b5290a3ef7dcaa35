"""The llava-bench-in-the-wild benchmark (see README.md in this folder)."""
