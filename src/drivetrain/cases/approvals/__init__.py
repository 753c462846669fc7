"""Approvals on cases (returns, refunds, goodwill, extended-warranty gifts, discounts) and the
authority matrix that routes them up the case's ladder."""
