"""Imports every domain's worker jobs so they register with the worker (``jobs.registry``), as
``models.py`` does for tables. The composition roots (the app, the CLI) import this module."""

from drivetrain.cases import tasks as case_tasks
from drivetrain.customers.segments import tasks as segment_tasks
from drivetrain.integrations.sms import client as sms_client
from drivetrain.integrations.wecom import client as wecom_client
from drivetrain.integrations.wecom import customer as wecom_customer
from drivetrain.leads import tasks as lead_tasks
from drivetrain.quality import tasks as quality_tasks

__all__ = [
    "case_tasks",
    "lead_tasks",
    "quality_tasks",
    "segment_tasks",
    "sms_client",
    "wecom_client",
    "wecom_customer",
]
