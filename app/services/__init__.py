"""The only layer that touches map data on behalf of the web (cached, keyed by data version)."""
