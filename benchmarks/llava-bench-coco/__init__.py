"""The llava-bench-coco benchmark (see README.md in this folder)."""
