"""`contacts.yaml`: loaded and validated once; a bad file fails with the file, the key and the reason."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from pathlib import Path
from typing import Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.vocabulary import SYSTEM_LISTS

FieldType = Literal["text", "integer", "float", "boolean", "date"]
# Names that custom fields may not take: they are contact columns already.
RESERVED_FIELDS = frozenset(
    {
        "contact_id",
        "email",
        "email_ascii",
        "email_domain",
        "first_name",
        "last_name",
        "tags",
        "status",
        "status_changed_at",
        "consent_source",
        "consent_at",
        "created_at",
        "updated_at",
    }
)
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
LIST_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ConfigError(ValueError):
    """A configuration or manifest problem, phrased for the person who wrote the file."""


def timezone_problem(value: str) -> str | None:
    """Why `value` is not a timezone this machine knows, or None."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {value!r} (use an IANA name such as 'Europe/Berlin')"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomField(_Strict):
    type: FieldType
    format: str | None = None  # strptime format for dates that are not ISO 8601


class ListConfig(_Strict):
    name: str
    test: bool = False


class Rules(_Strict):
    soft_bounce_limit: int = Field(3, ge=1)
    soft_bounce_window_days: int = Field(30, ge=1)
    engaged_window_days: int = Field(30, ge=1)
    inactive_after_days: int = Field(180, ge=1)
    fold_provider_aliases: bool = False
    # contact_predictions: the window churn_risk looks ahead, and the back-test's shift (README "Predictions")
    prediction_horizon_days: int = Field(90, ge=7, le=730)


class Exports(_Strict):
    keep_versions: int = Field(10, ge=1)  # versions kept per export; `latest` is always kept
    include_non_mailable: bool = False  # true: every member, with its status (audit exports)
    audit: list[str] = Field(default_factory=list)  # segment or list ids exported with non-mailable members


class Schedule(_Strict):
    daily_at: str = Field("06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time in `timezone`


class Dedupe(_Strict):
    """Probable duplicates (assets/contacts/duplicates.py): the custom fields compared beside names and
    addresses (None: every text and date field), and the probability from which a pair is a candidate."""

    fields: list[str] | None = None
    min_probability: float = Field(0.5, gt=0, lt=1)


class Reports(_Strict):
    """The list-health report (assets/metrics/report.py): whether to write the PDF beside the HTML, and the
    port of `contacts serve-reports`, which the report asset links to."""

    pdf: bool = True
    serve_port: int = Field(3001, ge=1, le=65535)


class Limits(_Strict):
    """What one inbox file may hold (assets/ingest/read_limits.py); sizes as `4MiB`, `1GB` or bytes."""

    max_file_size: ByteSize = Field(ByteSize(512 << 20), gt=0)  # on disk
    max_decompressed_size: ByteSize = Field(
        ByteSize(512 << 20), gt=0
    )  # a .gz file's content, or a Parquet file's pages
    max_compression_ratio: float = Field(100.0, gt=1)  # decompressed : compressed
    max_line_length: ByteSize = Field(ByteSize(4 << 20), gt=0)  # bytes between two line ends
    max_field_size: ByteSize = Field(ByteSize(1 << 20), gt=0)  # bytes of one cell


# The receiver's secrets come from the environment: the config names the variable, never holds the secret.
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SendgridReceiver(_Strict):
    """SendGrid's Signed Event Webhook: the verification key as the SendGrid UI shows it (base64 DER)."""

    public_key_env: str = Field(pattern=ENV_NAME)


class MailgunReceiver(_Strict):
    """Mailgun: the HTTP webhook signing key (HMAC-SHA256 of timestamp + token)."""

    signing_key_env: str = Field(pattern=ENV_NAME)


class MailtrapReceiver(_Strict):
    """Mailtrap: the webhook's signing secret (HMAC-SHA256 of the raw body, header `Mailtrap-Signature`)."""

    signing_secret_env: str = Field(pattern=ENV_NAME)


class MandrillReceiver(_Strict):
    """Mandrill (Mailchimp Transactional): the webhook's key, and its URL exactly as entered in Mandrill, which
    the signature covers (behind a proxy the receiver cannot see it)."""

    webhook_key_env: str = Field(pattern=ENV_NAME)
    url: str = Field(pattern=r"^https?://")


class SharedSecretReceiver(_Strict):
    """A service that signs nothing: HTTP basic auth (`user:password` in the variable), or a token, sent as
    `Authorization: Bearer <token>` or as the last part of the path (`/webhooks/<service>/<token>`)."""

    basic_auth_env: str | None = Field(None, pattern=ENV_NAME)
    token_env: str | None = Field(None, pattern=ENV_NAME)

    @model_validator(mode="after")
    def _one_scheme(self) -> SharedSecretReceiver:
        if (self.basic_auth_env is None) == (self.token_env is None):
            raise ValueError("set exactly one of basic_auth_env (user:password) and token_env")
        return self


class Receiver(_Strict):
    """`contacts receive` (pipelines/receiver.py): where it listens, what a delivery may be, and each
    service's authentication. A service left out answers 404."""

    host: str = "127.0.0.1"
    port: int = Field(3002, ge=1, le=65535)
    max_body_size: ByteSize = Field(ByteSize(5_000_000), gt=0)
    max_age_seconds: int = Field(300, ge=1)  # signed timestamps older or newer than this are refused
    sendgrid: SendgridReceiver | None = None
    mailgun: MailgunReceiver | None = None
    mailtrap: MailtrapReceiver | None = None
    postmark: SharedSecretReceiver | None = None
    brevo: SharedSecretReceiver | None = None
    ses: SharedSecretReceiver | None = None
    sparkpost: SharedSecretReceiver | None = None
    listmonk: SharedSecretReceiver | None = None
    mandrill: MandrillReceiver | None = None
    mailchimp: SharedSecretReceiver | None = None

    @property
    def services(self) -> dict[str, _Strict]:
        """The configured services by their path name."""
        return {name: getattr(self, name) for name in RECEIVER_SERVICES if getattr(self, name) is not None}


RECEIVER_SERVICES = (
    "sendgrid",
    "mailgun",
    "mailtrap",
    "postmark",
    "brevo",
    "ses",
    "sparkpost",
    "listmonk",
    "mandrill",
    "mailchimp",
)


class ContactsConfig(_Strict):
    timezone: str = "UTC"
    fields: dict[str, CustomField] = Field(default_factory=dict)
    lists: dict[str, ListConfig] = Field(default_factory=dict)
    rules: Rules = Field(default_factory=Rules)
    exports: Exports = Field(default_factory=Exports)
    schedule: Schedule = Field(default_factory=Schedule)
    limits: Limits = Field(default_factory=Limits)
    dedupe: Dedupe = Field(default_factory=Dedupe)
    reports: Reports = Field(default_factory=Reports)
    receiver: Receiver = Field(default_factory=Receiver)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        problem = timezone_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, CustomField]) -> dict[str, CustomField]:
        for name, spec in value.items():
            if not IDENTIFIER.match(name):
                raise ValueError(f"field name {name!r} must be lower-case letters, digits and _")
            if name in RESERVED_FIELDS:
                raise ValueError(f"field name {name!r} is a built-in contact column")
            if spec.format and spec.type != "date":
                raise ValueError(f"field {name!r}: `format` applies only to date fields")
        return value

    @model_validator(mode="after")
    def _dedupe_fields_declared(self) -> ContactsConfig:
        for name in self.dedupe.fields or []:
            if name not in self.fields:
                declared = ", ".join(sorted(self.fields)) or "none"
                raise ValueError(f"dedupe.fields: {name!r} is not a custom field (declared: {declared})")
        return self

    @property
    def dedupe_fields(self) -> list[str]:
        """The custom fields the duplicate model compares."""
        if self.dedupe.fields is not None:
            return list(self.dedupe.fields)
        return [name for name, spec in self.fields.items() if spec.type in ("text", "date")]

    @field_validator("lists")
    @classmethod
    def _list_ids(cls, value: dict[str, ListConfig]) -> dict[str, ListConfig]:
        for list_id in value:
            if not LIST_ID.match(list_id):
                raise ValueError(f"list id {list_id!r} must match [a-z0-9][a-z0-9_-]*")
            if list_id in SYSTEM_LISTS:
                raise ValueError(f"list id {list_id!r} is a system list")
        return value


def describe_validation_error(
    source: Path | str, error: ValidationError, model: type[BaseModel] | None = None
) -> str:
    """Every problem, `<file>: key 'a.b': reason`, joined by `; ` so that a one-line log or ledger reason
    holds all of them; an unknown key names the closest known one."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden" and model is not None:
            message = unknown_key_message(model, problem["loc"])
        lines.append(f"{source}: key '{key}': {message}")
    return "; ".join(lines)


def unknown_key_message(model: type[BaseModel], loc: tuple) -> str:
    """`unknown key; did you mean 'mode'? (known: ...)`, from the model's fields at that place."""
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = field.annotation if field else None
        if get_origin(annotation) is dict and parts:  # `lists: {news: {...}}`: the next part is a user's key
            annotation = get_args(annotation)[1]
            parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "unknown key"
        model = annotation
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key{hint} (known: {', '.join(known)})"


def read_yaml_mapping(path: Path) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(loaded).__name__}")
    return loaded


def load_config(path: Path) -> ContactsConfig:
    raw = read_yaml_mapping(path)
    try:
        return ContactsConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc, ContactsConfig)) from None
