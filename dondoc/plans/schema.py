"""The plan-file format (docs/plan-format.md) as pydantic models. Field-level rules live here;
rules that relate several parts of a file live in checks.py, rules that need the database in
loader.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from dondoc.plans.fields import (
    Code,
    DeadlineText,
    DocNumberText,
    Email,
    LocalDate,
    Phone,
    Text,
    Text32,
    Text120,
    Text255,
)
from models.enums import (
    Aggregation,
    CampaignStatus,
    ContactRole,
    DistributionRole,
    IndicatorType,
    Sector,
    UnitKind,
    WorkWeek,
)

Channel = Literal["email", "zalo"]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactSpec(Spec):
    role: ContactRole
    name: Text120 | None = None
    email: Email | None = None
    zalo: Phone | None = None
    consent: list[Channel] = Field(default_factory=list)

    @field_validator("consent", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # Unit lists write "email+zalo" in one cell.
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.replace(",", "+").split("+") if part.strip()]
        return value

    @model_validator(mode="after")
    def _consent_needs_address(self) -> ContactSpec:
        if "email" in self.consent and not self.email:
            raise ValueError("consent to email given but no email address")
        if "zalo" in self.consent and not self.zalo:
            raise ValueError("consent to Zalo given but no Zalo number")
        return self


class UnitSpec(Spec):
    code: Code
    name: Text255
    short_name: Text120 | None = None
    kind: UnitKind
    parent: Code | None = None
    sector: Sector | None = None
    ward: Text120 | None = None
    calendar: WorkWeek = WorkWeek.MON_FRI
    valid_from: LocalDate | None = None
    valid_to: LocalDate | None = None
    contacts: list[ContactSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> UnitSpec:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        if self.parent == self.code:
            raise ValueError("a unit cannot be its own parent")
        roles = [c.role for c in self.contacts]
        if len(roles) != len(set(roles)):
            raise ValueError("one contact per role")
        return self


class SignerSpec(Spec):
    title: Text255
    name: Text120 | None = None  # often filled in only when the report is signed


class BasisSpec(Spec):
    number: DocNumberText
    date: LocalDate | None = None
    issuer: Text255 | None = None
    title: Text | None = None
    implements: bool = False
    issuer_unit: Code | None = None


class DistributionSpec(Spec):
    to: Text255
    role: DistributionRole
    unit: Code | None = None
    group: Code | None = None


class MilestoneSpec(Spec):
    title: Text
    when: Text255 | None = None
    date: LocalDate | None = None


class PlanSpec(Spec):
    code: Code
    number: DocNumberText
    issuer: Code
    issuing_body: Text255 | None = None
    issued_on: LocalDate
    place: Text120 | None = None
    title: Text
    period_end: LocalDate | None = None
    data_cutoff: LocalDate | None = None
    status: CampaignStatus = CampaignStatus.ACTIVE
    signer: SignerSpec | None = None
    basis: list[BasisSpec] = Field(default_factory=list)
    distribution: list[DistributionSpec] = Field(default_factory=list)
    milestones: list[MilestoneSpec] = Field(default_factory=list)


class SelectorSpec(Spec):
    parent: Code | None = None
    kinds: list[UnitKind] = Field(default_factory=list)
    sectors: list[Sector] = Field(default_factory=list)
    codes: list[Code] = Field(default_factory=list)

    @model_validator(mode="after")
    def _not_everything(self) -> SelectorSpec:
        if not self.parent and not self.codes:
            raise ValueError("give a parent unit or a list of unit codes")
        return self


class RequirementSpec(Spec):
    code: Code
    title: Text
    group_label: Text255 | None = None
    units: SelectorSpec
    submit_to: Code
    consolidated_by: Code | None = None
    due: DeadlineText
    hard_close: DeadlineText | None = None
    review: Literal["required", "not_required"] = "required"
    reminder_policy: Code | None = "default"
    consolidation_cutoff: int | None = Field(default=None, ge=0, le=60)
    report_up: bool = False
    indicators: list[Code] | Literal["all"] = Field(default_factory=list)
    outline: list[Text] = Field(default_factory=list)


class IndicatorSpec(Spec):
    key: Code
    label: Text255
    unit: Text32 | None = None
    type: IndicatorType
    min: Decimal | None = None
    max: Decimal | None = None
    max_of: Code | None = None
    sectors: list[Sector] | None = None
    aggregate: Aggregation = Aggregation.SUM
    formula: Text255 | None = None
    choices: list[Text255] | None = None
    count: list[Text255] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorSpec:
        if self.type == IndicatorType.DERIVED and not self.formula:
            raise ValueError("a derived indicator needs a formula")
        if self.type != IndicatorType.DERIVED and self.formula:
            raise ValueError("only derived indicators have a formula")
        if self.type == IndicatorType.CHOICE and not self.choices:
            raise ValueError("a choice indicator needs choices")
        if self.count and not set(self.count) <= set(self.choices or []):
            raise ValueError("count lists values that are not among the choices")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError("max is below min")
        return self


class TargetSpec(Spec):
    code: Code
    label: Text
    indicator: Text
    value: Decimal
    unit: Text32 | None = None
    direction: Literal[">=", "<="] = ">="
    scope: Literal["term", "yearly"] = "term"
    sectors: list[Sector] | None = None


def _policy(value: Any) -> dict[str, Any]:
    from dondoc.rules.reminders import ReminderPolicy

    return ReminderPolicy.from_json(value).to_json()  # ValueError names the bad field


PolicySpec = Annotated[dict[str, Any], BeforeValidator(_policy)]


class PlanFile(Spec):
    format: Literal["dondoc/plan@1"]
    # Named reminder policies (docs/plan-format.md); "default" is built in and may be redefined.
    reminder_policies: dict[Code, PolicySpec] = Field(default_factory=dict)
    units_file: Text | None = None
    units: list[UnitSpec] = Field(default_factory=list)
    plan: PlanSpec
    indicators: list[IndicatorSpec] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(default_factory=list)
    requirements: list[RequirementSpec] = Field(min_length=1)
