"""Synthetic data: demo maps, rendered image stacks and demo pools with a planted effect."""

from .images import render_images, render_stack, write_stack
from .maps import generate_map
from .pools import DemoPool, make_pool

__all__ = ["DemoPool", "generate_map", "make_pool", "render_images", "render_stack", "write_stack"]
