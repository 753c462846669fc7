"""/api/v1/leads and the settings routing reads."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from drivetrain.auth.deps import SessionDep
from drivetrain.kit.i18n import locale_of
from drivetrain.kit.pagination import MAX_LIMIT, Page, page_of
from drivetrain.kit.validators import Text
from drivetrain.leads import assignment, service
from drivetrain.leads.auth import LeadAssigner, LeadCapturer, LeadConfigurer, LeadReader, LeadWorker
from drivetrain.leads.capture import CaptureRequest
from drivetrain.leads.intake_queue import intake
from drivetrain.leads.models import Channel, FollowUpTask, Stage
from drivetrain.leads.presenters import lead_detail, lead_reads
from drivetrain.leads.repository import LeadFilter, LeadRepository, TaskRepository
from drivetrain.leads.schemas import (
    LeadCreate,
    LeadDetail,
    LeadRead,
    LeadSettingsRead,
    LeadSettingsUpdate,
    Reassignment,
    StageChange,
    TaskCreate,
    TaskRead,
)
from drivetrain.org.repository import DealerRepository, StaffRepository

router = APIRouter(tags=["leads"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadRead,
    summary="Capture a lead from any channel; answers once it is routed",
)
async def create_lead(
    body: LeadCreate,
    request: Request,
    subject: LeadCapturer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    answer = intake.submit(CaptureRequest(subject, body, idempotency_key), locale=locale_of(request))
    read = await asyncio.wrap_future(answer)
    # Already a LeadRead: serialised once here rather than validated again as a return value.
    return Response(read.model_dump_json(), status_code=201, media_type="application/json")


@router.get("/leads", summary="Leads you may see, newest first")
def list_leads(
    request: Request,
    subject: LeadReader,
    session: SessionDep,
    stage: Stage | None = None,
    open: bool = False,
    dealer_code: Annotated[Text | None, Query(max_length=20)] = None,
    consultant: Annotated[Text | None, Query(max_length=60)] = None,
    channel: Channel | None = None,
    campaign: Annotated[Text | None, Query(max_length=80)] = None,
    unassigned: bool = False,
    cursor: Annotated[Text | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Page[LeadRead]:
    filters = LeadFilter(
        stage=stage.value if stage else None,
        open_only=open,
        dealer_id=DealerRepository(session).by_code(subject, dealer_code).id if dealer_code else None,
        consultant_id=StaffRepository(session).by_username(subject, consultant).id if consultant else None,
        channel=channel.value if channel else None,
        campaign=campaign,
        unassigned=unassigned,
    )
    rows = LeadRepository(session).search(subject, filters, cursor=cursor, limit=limit)
    items, next_cursor = page_of(rows, limit=limit, id_of=lambda lead: lead.id)
    return Page(items=lead_reads(session, subject, items, locale=locale_of(request)), next_cursor=next_cursor)


@router.get("/leads/{lead_id}", summary="A lead with its conversion path, history and follow-ups")
def get_lead(lead_id: str, request: Request, subject: LeadReader, session: SessionDep) -> LeadDetail:
    return lead_detail(
        session, subject, LeadRepository(session).get_readable(subject, lead_id), locale=locale_of(request)
    )


@router.post("/leads/{lead_id}/stage", summary="Move a lead along the pipeline")
def change_stage(
    lead_id: str, body: StageChange, request: Request, subject: LeadWorker, session: SessionDep
) -> LeadRead:
    lead = service.change_stage(
        session, subject, LeadRepository(session).get_readable(subject, lead_id), data=body
    )
    return lead_reads(session, subject, [lead], locale=locale_of(request))[0]


@router.post("/leads/{lead_id}/reassign", summary="Reassign a lead, with a reason")
def reassign(
    lead_id: str, body: Reassignment, request: Request, subject: LeadAssigner, session: SessionDep
) -> LeadRead:
    lead = service.reassign(
        session, subject, LeadRepository(session).get_readable(subject, lead_id), data=body
    )
    return lead_reads(session, subject, [lead], locale=locale_of(request))[0]


def _task_read(task: FollowUpTask, usernames: dict[str, str]) -> TaskRead:
    return TaskRead(
        id=task.id,
        lead_id=task.lead_id,
        due_at=task.due_at,
        note=task.note,
        done_at=task.done_at,
        assignee=usernames.get(task.assignee_id or ""),
    )


def _assignee_names(session: Session, task: FollowUpTask) -> dict[str, str]:
    return StaffRepository(session).usernames({task.assignee_id} if task.assignee_id else set())


@router.post("/leads/{lead_id}/tasks", status_code=201, summary="Schedule a follow-up")
def add_task(lead_id: str, body: TaskCreate, subject: LeadWorker, session: SessionDep) -> TaskRead:
    task = service.add_task(
        session,
        subject,
        LeadRepository(session).get_readable(subject, lead_id),
        due_at=body.due_at,
        note=body.note,
    )
    return _task_read(task, _assignee_names(session, task))


@router.get("/tasks", summary="Your follow-ups, soonest first")
def my_tasks(
    subject: LeadReader,
    session: SessionDep,
    open: bool = True,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> list[TaskRead]:
    tasks = TaskRepository(session).mine(subject, open_only=open, limit=limit)
    return [_task_read(t, {subject.user_id: subject.username}) for t in tasks]


@router.post("/tasks/{task_id}/done", summary="Mark a follow-up done")
def complete_task(task_id: str, subject: LeadWorker, session: SessionDep) -> TaskRead:
    task = service.complete_task(TaskRepository(session).get_readable(subject, task_id))
    return _task_read(task, _assignee_names(session, task))


@router.get("/lead-settings", summary="Routing and first-contact SLA settings")
def get_settings(subject: LeadReader, session: SessionDep) -> LeadSettingsRead:
    return LeadSettingsRead.model_validate(LeadRepository(session).settings(), from_attributes=True)


@router.put("/lead-settings", summary="Change routing and first-contact SLA settings (HQ)")
def put_settings(body: LeadSettingsUpdate, subject: LeadConfigurer, session: SessionDep) -> LeadSettingsRead:
    return LeadSettingsRead.model_validate(
        service.update_settings(session, subject, data=body), from_attributes=True
    )


class DealerIntake(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accepting: bool = True
    capacity: int | None = Field(
        default=None, ge=0, le=100_000, description="Max open leads; null = no limit"
    )


class Duty(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_duty: bool
    weight: float = Field(default=1.0, gt=0, le=10)


@router.put("/dealers/{code}/lead-intake", summary="Whether a dealer takes new leads, and how many open ones")
def put_intake(code: str, body: DealerIntake, subject: LeadAssigner, session: SessionDep) -> DealerIntake:
    dealer = DealerRepository(session).by_code(subject, code)
    state = assignment.set_dealer_intake(
        session, subject, dealer.id, accepting=body.accepting, capacity=body.capacity
    )
    return DealerIntake(accepting=state.accepting, capacity=state.capacity)


@router.put("/staff/{username}/duty", summary="Put a consultant on or off lead duty")
def put_duty(username: str, body: Duty, subject: LeadAssigner, session: SessionDep) -> Duty:
    user = StaffRepository(session).by_username(subject, username)
    duty = assignment.set_duty(session, subject, user, on_duty=body.on_duty, weight=body.weight)
    return Duty(on_duty=duty.on_duty, weight=duty.weight)
