"""Multi-digit arithmetic written digit by digit: addition and subtraction (lesson 12) and
multiplication (lesson 13)."""
