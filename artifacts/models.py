"""Pydantic models of the protocol files: ``feature_list.json`` and ``progress.md`` entries.

The JSON Schemas in ``templates/schemas/`` are generated from these models
(``python -m artifacts.schemas --write``); a test fails when they drift.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

ADOPTED = "adopted, unverified"
"""The ``verification`` of evidence that ``harness adopt`` gives entries already passing."""

FEATURE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"

# JSON Schema rules that pydantic cannot derive from the field types: evidence goes with
# passing, and only with passing (so a plain `jsonschema` validator enforces it too).
_EVIDENCE_RULE: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"passes": {"const": True}}, "required": ["passes"]},
            "then": {
                "required": ["evidence"],
                "properties": {"evidence": {"type": "object"}},
            },
            "else": {"properties": {"evidence": {"type": "null"}}},
        }
    ]
}


def digest(data: bytes | str) -> str:
    """The output digest harness records in evidence: ``sha256:<hex>``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class Proof(BaseModel):
    """One run of a feature's check on a clean checkout, in a fresh sandbox: a journal step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(min_length=1, description="The journal step that ran it.")
    tree: str = Field(
        pattern=r"^[0-9a-f]{40}$", description="The git tree the checkout held (its sha)."
    )
    exit_code: int | None = Field(description="The check's exit code (None: it never ended).")
    output_digest: str = Field(min_length=1, description="Digest of the check's output.")


class Review(BaseModel):
    """The independent evaluator's verdict on the feature: a journal step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(min_length=1, description="The journal step holding the verdict.")
    verdict: Literal["pass"] = Field(description="What the evaluator answered.")
    model: str = Field(min_length=1, description="The evaluator's model.")


class Evidence(BaseModel):
    """Proof that a feature passed: a verification harness ran, with its result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verification: str = Field(
        min_length=1,
        description='Where the verification is recorded: "journal:<run>/<session>/<seq>" '
        'for a check harness ran, "adopted, unverified" for adopted entries.',
    )
    at: AwareDatetime = Field(description="When the verification ran (with a time zone).")
    exit_code: int = Field(description="Exit code of the check; 0 for a passing feature.")
    output_digest: str = Field(
        min_length=1, description='Digest of the check\'s output, e.g. "sha256:<hex>".'
    )
    command: str | None = Field(default=None, description="The command that was run.")
    session: int | None = Field(default=None, ge=0, description="The session that ran it.")
    tree: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{40}$",
        description="The git tree of the clean checkout the passing check ran on, in a fresh "
        "sandbox (absent: the check ran in the agent's own work tree).",
    )
    before: Proof | None = Field(
        default=None,
        description="The same check on the tree the session started from (with the "
        "session's changes to test files laid over it): it failed.",
    )
    review: Review | None = Field(
        default=None, description="The independent evaluator's passing verdict."
    )
    approval: str | None = Field(
        default=None,
        description='A human\'s approval ("human:<question>") that stood in for a proof '
        "the check could not give (it passed before the session too).",
    )

    def proofs(self) -> list[str]:
        """The proofs this evidence holds, by name (README, "Verified done")."""
        if self.verification == ADOPTED:
            return ["adopted"]
        found = []
        if self.verification.startswith("journal:"):
            found.append("check")
        if self.tree is not None:
            found.append("clean")
        if self.before is not None:
            found.append("fails-before")
        if self.review is not None:
            found.append("evaluator")
        if self.verification.startswith("human:") or self.approval is not None:
            found.append("human")
        return found


class Feature(BaseModel):
    """One unit of the definition of done. Only ``passes`` and ``evidence`` ever change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_EVIDENCE_RULE)

    id: str = Field(
        pattern=FEATURE_ID_PATTERN,
        description='Stable identifier, e.g. "F001"; never reused or changed.',
    )
    category: str = Field(min_length=1, description='Kind of feature, e.g. "functional".')
    description: str = Field(min_length=1, description="What the feature does, for a user.")
    steps: list[str] = Field(description="Steps a tester follows to verify the feature.")
    priority: int = Field(ge=0, description="Order of work: the lowest number is done first.")
    check: str | None = Field(
        default=None, description="A shell command whose exit 0 verifies the feature."
    )
    passes: bool = Field(default=False, description="True only with evidence.")
    evidence: Evidence | None = Field(
        default=None, description="The verification that made the feature pass."
    )
    extra: dict[str, Any] | None = Field(
        default=None,
        description="The project's own fields that harness does not own (an adopted list's "
        "priority words, QA notes, claims...), kept exactly as they were: never read for a "
        "decision, never changed.",
    )

    @property
    def state(self) -> str:
        """``passing``, ``failing``, or ``adopted, unverified`` (passing on an adoption's
        word only, until a run re-verifies it)."""
        if not self.passes:
            return "failing"
        unverified = self.evidence is not None and self.evidence.verification == ADOPTED
        return ADOPTED if unverified else "passing"

    @model_validator(mode="after")
    def _evidence_goes_with_passing(self) -> Feature:
        if self.passes and self.evidence is None:
            raise ValueError(f"feature {self.id} passes without evidence")
        if not self.passes and self.evidence is not None:
            raise ValueError(f"feature {self.id} is failing but carries evidence")
        return self


class FeatureList(BaseModel):
    """The file ``feature_list.json``: ``{"version": 1, "features": [...]}``."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(default=1, ge=1, le=1, description="Format version; 1.")
    features: list[Feature] = Field(description="Every feature, in the order written.")
    extra: dict[str, Any] | None = Field(
        default=None,
        description="The project's own top-level fields (an adopted list's wrapper, e.g. "
        '"project"), kept exactly as they were.',
    )

    @model_validator(mode="after")
    def _ids_unique(self) -> FeatureList:
        seen: set[str] = set()
        for feature in self.features:
            if feature.id in seen:
                raise ValueError(f"duplicate feature id {feature.id}")
            seen.add(feature.id)
        return self

    def get(self, feature_id: str) -> Feature | None:
        """The feature with this id, or None."""
        return next((f for f in self.features if f.id == feature_id), None)

    @property
    def passing(self) -> int:
        """How many features pass."""
        return sum(1 for f in self.features if f.passes)


class ProgressEntry(BaseModel):
    """One session's entry in ``progress.md``: what was done, how it ended, what is next."""

    model_config = ConfigDict(extra="forbid")

    session: int = Field(ge=0, description="Session number; unique in the file.")
    date: AwareDatetime = Field(description="When the session ended (with a time zone).")
    feature: str | None = Field(default=None, description="Id of the feature worked on.")
    outcome: str = Field(min_length=1, description='How it ended, e.g. "passing".')
    summary: str = Field(description="What was done.")
    next: str = Field(description="What the next session should do first.")
    notes: list[str] = Field(default_factory=list, description="Anything else worth keeping.")
