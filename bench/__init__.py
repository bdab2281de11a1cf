"""`make bench`: build speed, image size, detect time and reproducibility (see bench/run.py)."""
