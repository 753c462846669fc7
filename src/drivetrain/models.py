"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from drivetrain.auth import models as auth_models
from drivetrain.customers import models as customer_models
from drivetrain.kit import idempotency
from drivetrain.org import models as org_models

__all__ = ["auth_models", "customer_models", "idempotency", "org_models"]
