"""Doorways: a keyboard-driven terminal workstation for CLIP-guided VQGAN art."""

__version__ = "0.4.0"  # pyproject reads it from here
