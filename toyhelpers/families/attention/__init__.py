"""Attention circuits on token sequences: a previous-token head with rotary positions
(lesson 14) and induction heads on repeated tokens (lesson 15)."""
