"""The minimum or maximum of two integers (lesson 03)."""
