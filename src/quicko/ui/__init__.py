"""Graphical front-ends."""
