"""The signed-in subject's own event stream (``GET /api/v1/events``)."""
