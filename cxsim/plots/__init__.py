"""Figures (matplotlib). Never imported by the core rooms: only apps and notebooks use them."""
