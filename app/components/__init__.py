"""Reusable layout pieces (session viewer, catalog card, controls)."""
