"""Tracing tiny assignment programs (seed problem 3.9, lesson 18)."""
