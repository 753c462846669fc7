"""API shapes for cases."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from drivetrain.cases.classify import Aspect, Category, Severity
from drivetrain.kit.validators import Text


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    text: Text = Field(
        min_length=1, max_length=5000, description="An owner's message, Simplified or Traditional"
    )


class ClassificationRead(BaseModel):
    text: str = Field(description="The text as classified: Simplified, half-width, whitespace collapsed")
    category: Category
    severity: Severity
    sentiment: int = Field(ge=-1, le=1, description="-1 negative, 0 neutral or mixed, 1 positive")
    aspects: list[Aspect] = Field(description="BDCI 2018 product aspects the text talks about")
