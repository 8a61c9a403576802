"""Helpers shared by the test packages: tiny hand-made maps, the old package, the Dash callback caller."""
