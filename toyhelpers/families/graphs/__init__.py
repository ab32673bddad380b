"""Shortest paths in small graphs (seed problem 3.10, lesson 19)."""
