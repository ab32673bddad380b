"""Memorisation of a random lookup table (seed problem 3.24, lesson 23)."""
