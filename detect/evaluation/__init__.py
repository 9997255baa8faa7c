"""Measuring detection quality on a labelled folder (``gridwatch eval``): dataset, split, run, score."""
