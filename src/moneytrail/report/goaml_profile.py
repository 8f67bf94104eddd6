"""A financial intelligence unit's goAML profile: who reports, and the FIU's code lists.

Every FIU runs its own goAML deployment with its own lookup tables: the letters for
funds types, transmission modes, identifier types, its report indicators, sometimes its
own currency or country codes. A profile (YAML, see ``profiles/example.yaml``) supplies
them, with the reporting entity's registration. Loading checks every code against the
enumerations of the FIU's XSD, so a wrong code fails here, with the profile key to fix,
and not at the FIU's gateway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import xmlschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moneytrail.errors import UserError

XSD_NAME = "goAMLSchema-5.0.1.xsd"
XSD_ENV = "MONEYTRAIL_GOAML_XSD"
EXAMPLE_PROFILE = "example.yaml"

# Version in which goAML added the elements moneytrail writes beyond 5.0
# (the XSD's goaml:supportedIn attribute; tests check these against the XSD).
SUPPORTED_IN: dict[str, str] = {
    "transaction_is_suspicious": "5.1",
    "from_is_suspected": "5.1",
    "to_is_suspected": "5.1",
    "from_transaction_additional_info": "5.1",
    "reporting_user_code": "5.1",
    "network_devices": "5.2",
    "social_media": "5.2",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileAddress(_Strict):
    address_type: str = "-"
    address: str = Field(min_length=1, max_length=100)
    town: str | None = None
    city: str = Field(min_length=1, max_length=255)
    zip: str | None = Field(default=None, max_length=10)
    country_code: str
    state: str | None = None


class ReportingPerson(_Strict):
    title: str | None = Field(default=None, max_length=30)
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = None
    occupation: str | None = Field(default=None, max_length=255)


class ReportingEntity(_Strict):
    rentity_id: int = Field(ge=1)
    rentity_branch: str = Field(min_length=1, max_length=255)
    submission_code: str = "E"
    report_code: str = "STR"
    currency_code_local: str
    reporting_person: ReportingPerson | None = None
    reporting_user_code: str | None = Field(default=None, min_length=4, max_length=50)
    location: ProfileAddress


class Institution(_Strict):
    name: str = Field(min_length=1, max_length=255)
    code: str | None = Field(default=None, min_length=1, max_length=50)
    swift: str | None = Field(default=None, min_length=1, max_length=11)


class Codes(_Strict):
    transmode: dict[str, str]
    funds: dict[str, str]
    identifier_type: dict[str, str]
    account_type: dict[str, str] = {}
    communication_type: dict[str, str]
    contact_type: dict[str, str]
    indicators: dict[str, str]
    currency: dict[str, str] = {}
    country: dict[str, str] = {}


class Placeholders(_Strict):
    country: str = "-"
    text: str = Field(default="UNKNOWN", min_length=1, max_length=100)


class GoamlProfile(_Strict):
    fiu: str
    schema_version: Literal["5.0", "5.1", "5.2"] = "5.2"
    xsd: str | None = None
    reporting_entity: ReportingEntity
    action: str = ""
    max_transactions: int = Field(default=200, ge=1, le=100_000)
    institutions: dict[str, Institution] = {}
    codes: Codes
    placeholders: Placeholders = Placeholders()

    def supports(self, element: str) -> bool:
        """Whether the FIU's goAML takes an element added after 5.0."""
        need = SUPPORTED_IN.get(element, "5.0")
        return tuple(map(int, self.schema_version.split("."))) >= tuple(map(int, need.split(".")))


# Which XSD simple type each code list must come from.
CODE_TYPES: dict[str, str] = {
    "transmode": "conduction_type",
    "funds": "funds_type",
    "identifier_type": "identifier_type",
    "account_type": "account_type",
    "communication_type": "communication_type",
    "contact_type": "contact_type",
    "indicators": "report_indicator_type",
    "currency": "currency_type",
    "country": "country_type",
}


@dataclass(frozen=True)
class LoadedProfile:
    """A checked profile, the file it came from and the XSD it is checked against."""

    profile: GoamlProfile
    path: Path
    xsd_path: Path
    schema: xmlschema.XMLSchema11

    def enumeration(self, type_name: str) -> list[str] | None:
        return enumeration(self.schema, type_name)

    def code(self, table: str, *keys: str | None) -> str:
        """The FIU code for the first of ``keys`` the table has, else its ``default``."""
        mapping: dict[str, str] = getattr(self.profile.codes, table)
        for key in keys:
            if key is not None and key in mapping:
                return mapping[key]
        if "default" in mapping:
            return mapping["default"]
        tried = ", ".join(repr(k) for k in keys if k is not None) or "(no value)"
        raise UserError(
            f"the goAML profile {self.path} has no code for {tried} in codes.{table} and no "
            f"'default' there; add one from your FIU's code list"
        )

    def currency(self, code: str | None, where: str) -> str:
        return self._iso(code, where, "currency", "currency_type")

    def country(self, code: str | None, where: str) -> str:
        if not code:
            return self.profile.placeholders.country
        return self._iso(code, where, "country", "country_type")

    def _iso(self, code: str | None, where: str, table: str, type_name: str) -> str:
        value = getattr(self.profile.codes, table).get(code or "", code)
        allowed = self.enumeration(type_name)
        if not value or (allowed is not None and value not in allowed):
            raise UserError(
                f"{table} {code!r} of {where} is not in the {type_name} code list of {self.xsd_path.name}; "
                f"map it under codes.{table} in the goAML profile {self.path}"
            )
        return value


def default_xsd() -> Path | None:
    """The generic goAML 5.0.1 XSD shipped with moneytrail (``report/schemas``), else the
    project's shared copy (``../shared/schemas/goaml``) when present."""
    here = Path(__file__).resolve()
    shipped = here.with_name("schemas") / XSD_NAME
    if shipped.is_file():
        return shipped
    for parent in here.parents:
        candidate = parent / "shared" / "schemas" / "goaml" / XSD_NAME
        if candidate.is_file():
            return candidate
    return None


def resolve_xsd(explicit: Path | None, profile: GoamlProfile, profile_path: Path) -> Path:
    """``--xsd``, else the profile's ``xsd`` (relative to the profile), else $MONEYTRAIL_GOAML_XSD,
    else the project's copy."""
    if explicit is not None:
        candidates = [("--xsd", explicit)]
    elif profile.xsd:
        p = Path(profile.xsd).expanduser()
        candidates = [("the profile's xsd", p if p.is_absolute() else profile_path.parent / p)]
    elif os.environ.get(XSD_ENV):
        candidates = [(f"${XSD_ENV}", Path(os.environ[XSD_ENV]))]
    else:
        found = default_xsd()
        if found is None:
            raise UserError(
                f"no goAML XSD found: pass --xsd FILE, set xsd in the profile or ${XSD_ENV} "
                f"(your FIU publishes its {XSD_NAME} with its code lists)"
            )
        return found
    label, path = candidates[0]
    if not path.is_file():
        raise UserError(f"the goAML XSD given by {label} does not exist: {path}")
    return path


@lru_cache(maxsize=4)
def load_schema(path: Path) -> xmlschema.XMLSchema11:
    """The XSD, as XSD 1.1 (goAML's declares vc:minVersion 1.1)."""
    try:
        return xmlschema.XMLSchema11(str(path))
    except (xmlschema.XMLSchemaException, OSError) as exc:
        raise UserError(f"cannot read the goAML XSD {path}: {exc}") from exc


def enumeration(schema: xmlschema.XMLSchema11, type_name: str) -> list[str] | None:
    """The allowed values of a simple type, or None when the XSD does not restrict it."""
    xsd_type = schema.types.get(type_name)
    if xsd_type is None:
        return None
    values = getattr(xsd_type, "enumeration", None)
    return [str(v) for v in values] if values else None


def example_profile_path() -> Path:
    return Path(str(resources.files("moneytrail.report") / "profiles" / EXAMPLE_PROFILE))


def load_profile(path: Path | None = None, xsd: Path | None = None) -> LoadedProfile:
    """Read and check a profile (default: the shipped example); UserError says what to fix."""
    p = path or example_profile_path()
    if not p.is_file():
        raise UserError(f"no goAML profile at {p}; copy {example_profile_path()} and fill it in")
    try:
        raw: Any = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"the goAML profile {p} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise UserError(f"the goAML profile {p} must be a YAML mapping (see {example_profile_path()})")
    try:
        profile = GoamlProfile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UserError(
            f"the goAML profile {p}: {where}: {first['msg']} ({exc.error_count()} problem(s) in all)"
        ) from exc
    ent = profile.reporting_entity
    if (ent.reporting_person is None) == (ent.reporting_user_code is None):
        raise UserError(
            f"the goAML profile {p}: give reporting_entity.reporting_person or reporting_user_code (one of them)"
        )
    if ent.reporting_user_code is not None and not profile.supports("reporting_user_code"):
        raise UserError(
            f"the goAML profile {p}: reporting_user_code needs schema_version 5.1 or later; "
            "give reporting_person instead"
        )
    xsd_path = resolve_xsd(xsd, profile, p)
    loaded = LoadedProfile(profile, p, xsd_path, load_schema(xsd_path))
    _check_codes(loaded)
    return loaded


def _check_codes(lp: LoadedProfile) -> None:
    prof = lp.profile
    checks: list[tuple[str, str, str]] = [
        ("reporting_entity.submission_code", prof.reporting_entity.submission_code, "submission_type"),
        ("reporting_entity.report_code", prof.reporting_entity.report_code, "report_type"),
        ("reporting_entity.currency_code_local", prof.reporting_entity.currency_code_local, "currency_type"),
        ("reporting_entity.location.country_code", prof.reporting_entity.location.country_code, "country_type"),
        ("reporting_entity.location.address_type", prof.reporting_entity.location.address_type, "contact_type"),
        ("placeholders.country", prof.placeholders.country, "country_type"),
    ]
    for table, type_name in CODE_TYPES.items():
        for key, value in getattr(prof.codes, table).items():
            checks.append((f"codes.{table}.{key}", value, type_name))
    for where, value, type_name in checks:
        allowed = lp.enumeration(type_name)
        if allowed is not None and value not in allowed:
            shown = ", ".join(allowed[:12]) + (" ..." if len(allowed) > 12 else "")
            raise UserError(
                f"the goAML profile {lp.path}: {where} is {value!r}, which {lp.xsd_path.name} does not "
                f"allow for {type_name} (allowed: {shown})"
            )
    for table in ("transmode", "funds", "identifier_type", "communication_type", "contact_type", "indicators"):
        if "default" not in getattr(prof.codes, table):
            raise UserError(
                f"the goAML profile {lp.path}: codes.{table} needs a 'default' code for values it does not list"
            )
