"""Simulating small automata: parity, a flip-flop and a cyclic group (seed problem 3.12,
lesson 20)."""
