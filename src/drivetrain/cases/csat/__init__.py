"""Closing the loop with the owner: a satisfaction survey (1–5 and a comment) when a case is resolved."""
