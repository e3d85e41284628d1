"""Measurements behind `cadenza bench`: each returns figures to print beside its goal."""
