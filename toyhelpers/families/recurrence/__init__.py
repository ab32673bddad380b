"""Linear recurrences mod p, Fibonacci first (lesson 05)."""
