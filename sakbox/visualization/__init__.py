"""Visualisation."""
