"""Harbor's Agent Trajectory Interchange Format (ATIF), version 1.8, as pydantic models.

Written from Harbor's own models (`harbor/models/trajectories/`, harbor 0.26.0 on PyPI), which
this project cannot depend on: harbor needs Python 3.12 or later. The fields are the ones an
exported attempt uses, with Harbor's rules: no unknown keys, step ids 1, 2, 3…, the fields of a
model call only on agent steps, no metrics on an agent step with no model call
(`llm_call_count` 0), and every observation's `source_call_id` a tool call of its own step.
The tests also validate the exported files with Harbor's own models, loaded from its wheel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION: Literal["ATIF-v1.8"] = "ATIF-v1.8"


class AtifModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Agent(AtifModel):
    name: str
    version: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None


class ToolCall(AtifModel):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any]
    extra: dict[str, Any] | None = None


class ObservationResult(AtifModel):
    source_call_id: str | None = None
    """The tool call this answers; None for an action outside tool calling."""
    content: str | None = None
    extra: dict[str, Any] | None = None


class Observation(AtifModel):
    results: list[ObservationResult]


class Metrics(AtifModel):
    prompt_tokens: int | None = None
    """The whole prompt, cached tokens included."""
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] | None = None


class Step(AtifModel):
    step_id: int = Field(ge=1)
    timestamp: str | None = None
    source: Literal["system", "user", "agent"]
    model_name: str | None = None
    message: str
    tool_calls: list[ToolCall] | None = None
    observation: Observation | None = None
    metrics: Metrics | None = None
    llm_call_count: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None

    @field_validator("timestamp")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value

    @model_validator(mode="after")
    def _agent_only(self) -> Step:
        if self.source != "agent":
            for name in ("model_name", "tool_calls", "metrics"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only for agent steps (step {self.step_id})")
        if self.source == "agent" and self.llm_call_count == 0 and self.metrics is not None:
            raise ValueError(f"step {self.step_id} made no model call but has metrics")
        return self


class FinalMetrics(AtifModel):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None
    total_cached_tokens: int | None = None
    total_cost_usd: float | None = None
    total_steps: int | None = Field(default=None, ge=0)
    extra: dict[str, Any] | None = None


class Trajectory(AtifModel):
    schema_version: Literal["ATIF-v1.8"] = SCHEMA_VERSION
    session_id: str | None = None
    trajectory_id: str | None = None
    agent: Agent
    steps: list[Step] = Field(min_length=1)
    notes: str | None = None
    final_metrics: FinalMetrics | None = None
    extra: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _ordered_and_linked(self) -> Trajectory:
        for n, step in enumerate(self.steps, start=1):
            if step.step_id != n:
                raise ValueError(f"steps[{n - 1}].step_id is {step.step_id}, not {n}")
            calls = {c.tool_call_id for c in step.tool_calls or []}
            for result in step.observation.results if step.observation else []:
                if result.source_call_id is not None and result.source_call_id not in calls:
                    raise ValueError(
                        f"step {n} answers {result.source_call_id!r}, not one of its tool calls"
                    )
        return self
