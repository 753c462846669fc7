"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from drivetrain.auth import models as auth_models
from drivetrain.cases import models as case_models
from drivetrain.customers import models as customer_models
from drivetrain.customers.segments import models as customer_segment_models
from drivetrain.jobs import models as job_models
from drivetrain.leads import models as lead_models
from drivetrain.org import models as org_models
from drivetrain.quality import models as quality_models
from drivetrain.sources import models as source_models
from drivetrain.unify import models as unify_models

__all__ = [
    "auth_models",
    "case_models",
    "customer_models",
    "customer_segment_models",
    "job_models",
    "lead_models",
    "org_models",
    "quality_models",
    "source_models",
    "unify_models",
]
