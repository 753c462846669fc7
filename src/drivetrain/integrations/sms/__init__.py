"""Text messages (SMS) to owners, through an SMS gateway."""
