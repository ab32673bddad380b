"""Modular arithmetic and grokking (lessons 06-11): tasks, recipes, the Fourier toolkit,
recorded training series and the one-hidden-layer MLP."""
