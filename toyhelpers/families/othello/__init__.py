"""Othello-GPT (lessons 24-27): a vectorised engine, the next-move task, board-state
probes and residual-stream interventions.

Importing this package imports nothing else: `engine` needs only torch, `probes` also
TransformerLens."""
