"""Implementation of the stand-in."""
