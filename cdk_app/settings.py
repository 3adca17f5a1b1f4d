"""Deployment settings: parsed once from cdk.json context into a frozen, typed object.

Only ``app.py`` reads context; it hands the raw values to :func:`parse_settings`. Every bad value
raises :class:`SettingsError` with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_ENV = "dev"

# An origin as a browser sends it in its Origin header, which CORS compares byte for byte: lower case, no path,
# no default port.
_ORIGIN = re.compile(r"^(https?)://(\[([0-9a-f:]+)\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(?::([1-9][0-9]{0,4}))?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# An environment's name goes into its stacks' names (PutOnly-<env>-Data), which CloudFormation limits to these.
# Lower case: the Glue database and Athena workgroup names are lower-cased (Prod and prod would share them).
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
_REMOVAL_POLICIES = ("retain", "destroy")

# DynamoDB's default per-table on-demand maximum is 40,000 write request units per second.
MAX_WRITE_CAP = 40_000
# An envelope item must stay well under DynamoDB's 400 KB item limit.
MAX_ENVELOPE_BYTES = 350_000
# Readers query every index shard up to envelope.INDEX_SHARDS_MAX (a pure module imports no other; the settings
# test proves the two equal).
MAX_INDEX_SHARDS = 32
# Readers refuse envelopes of more events than envelope.EVENTS_MAX (the settings test proves the two equal).
MAX_ENVELOPE_EVENTS = 10_000
_CONSENT = ("granted", "denied")


# The standard AWS partition's region names: botocore's regionRegex for the "aws" partition (the settings test
# proves the two equal; a pure module imports no SDK). China and GovCloud lack parts of the Site stack, and synth
# fails there with CloudFormation errors.
AWS_REGION_REGEX = r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"
# Its \w takes upper case and "_" too (us-EAST-1 would fail only at deploy): names are also held to their form.
_REGION_FORM = re.compile(r"[a-z]{2}-[a-z]+(-[a-z]+)?-[1-9][0-9]?")


def _is_region(name: object) -> bool:
    return (
        isinstance(name, str)
        and bool(re.match(AWS_REGION_REGEX, name, re.ASCII))
        and bool(_REGION_FORM.fullmatch(name))
    )


# Chromium lets a page have 64 KiB of keepalive request bodies in flight, and the worker keeps its copies within
# 60,000 B (worker.js KEEPALIVE_BUDGET). A PutItem body escapes the events' JSON once more: up to twice the item.
KEEPALIVE_SAFE_ENVELOPE_BYTES = 29_000


class SettingsError(ValueError):
    """A setting has a value that is not allowed. The message is one line meant for humans."""


@dataclass(frozen=True)
class Settings:
    """Everything a deployment can be configured with. Field docs are the README's settings table."""

    env_name: str
    region: str
    write_cap_units: int
    retention_days: int
    cors_origins: tuple[str, ...]
    removal_policy: str
    price_class: str
    domain_name: str | None
    certificate_arn: str | None
    max_event_bytes: int
    envelope_max_bytes: int
    envelope_max_events: int
    max_delay_seconds: int
    outbox_max_events: int
    outbox_max_bytes: int
    index_shards: int
    consent_default: str
    honor_global_privacy_control: bool
    alarm_email: str | None
    analytics_export: bool

    @property
    def destroy_on_removal(self) -> bool:
        return self.removal_policy == "destroy"

    @property
    def stack_prefix(self) -> str:
        return f"PutOnly-{self.env_name}"

    def warnings(self) -> list[str]:
        """Settings that are allowed but give up something the README promises."""
        if self.envelope_max_bytes <= KEEPALIVE_SAFE_ENVELOPE_BYTES:
            return []
        return [
            f"envelopeMaxBytes={self.envelope_max_bytes} (env {self.env_name}): above {KEEPALIVE_SAFE_ENVELOPE_BYTES}, "
            "a full envelope's keepalive copy can exceed what Chromium carries after a page is gone (64 KiB), and "
            "such an envelope then waits in the outbox for the visitor's return"
        ]

    def tracker_limits(self) -> dict[str, int | str | bool]:
        """The limits the tracker enforces, the index shards it writes to and its privacy defaults (config.json)."""
        return {
            "maxEventBytes": self.max_event_bytes,
            "envelopeMaxBytes": self.envelope_max_bytes,
            "envelopeMaxEvents": self.envelope_max_events,
            "maxDelaySeconds": self.max_delay_seconds,
            "outboxMaxEvents": self.outbox_max_events,
            "outboxMaxBytes": self.outbox_max_bytes,
            "retentionDays": self.retention_days,
            "indexShards": self.index_shards,
            "consentDefault": self.consent_default,
            "honorGlobalPrivacyControl": self.honor_global_privacy_control,
        }


# context key (camelCase, as in cdk.json) -> Settings field
_KEYS = {
    "region": "region",
    "writeCapUnits": "write_cap_units",
    "retentionDays": "retention_days",
    "corsOrigins": "cors_origins",
    "removalPolicy": "removal_policy",
    "priceClass": "price_class",
    "domainName": "domain_name",
    "certificateArn": "certificate_arn",
    "maxEventBytes": "max_event_bytes",
    "envelopeMaxBytes": "envelope_max_bytes",
    "envelopeMaxEvents": "envelope_max_events",
    "maxDelaySeconds": "max_delay_seconds",
    "outboxMaxEvents": "outbox_max_events",
    "outboxMaxBytes": "outbox_max_bytes",
    "indexShards": "index_shards",
    "consentDefault": "consent_default",
    "honorGlobalPrivacyControl": "honor_global_privacy_control",
    "alarmEmail": "alarm_email",
    "analyticsExport": "analytics_export",
}
SETTING_KEYS = tuple(_KEYS)

# Integer settings: (lowest, highest) allowed.
_INT_RANGES = {
    "writeCapUnits": (1, MAX_WRITE_CAP),
    "retentionDays": (0, 36_500),
    "maxEventBytes": (64, 65_536),
    "envelopeMaxBytes": (1_024, MAX_ENVELOPE_BYTES),
    "envelopeMaxEvents": (1, MAX_ENVELOPE_EVENTS),
    "maxDelaySeconds": (1, 3_600),
    "outboxMaxEvents": (100, 1_000_000),
    "outboxMaxBytes": (65_536, 500_000_000),
    "indexShards": (1, MAX_INDEX_SHARDS),
}


# Context keys CDK sets without a namespace (all its others hold "@" or ":").
_CDK_PLAIN_KEYS = ("cli-telemetry", "acknowledged-issue-numbers")


def check_context_keys(keys: Iterable[str]) -> list[str]:
    """CDK keeps any key given with ``-c``, so a misspelt setting (``-c writeCapUnit=500``) would be ignored in
    silence: a key that is close to a setting's name stops synth, naming both. Returns one warning for each other
    plain key that is neither a setting nor CDK's own."""
    names = (*SETTING_KEYS, "env")
    warnings = []
    for key in sorted(keys):
        if key in names or key in _CDK_PLAIN_KEYS or key.startswith("@") or ":" in key:
            continue
        near = [name for name in names if name.lower() == key.lower()] or difflib.get_close_matches(key, names, 1, 0.65)
        if not near and "env" in key.lower():  # -c environment=prod would deploy dev
            near = ["env"]
        if near:
            raise SettingsError(f"context key {key!r} is not a setting: did you mean {near[0]}?")
        settings = ", ".join(names)
        warnings.append(f"context key {key!r} is not a setting and is ignored (settings: {settings})")
    return warnings


def _shown(value: object) -> str:
    """``value`` as Python writes it, cut short if long (a value of thousands of digits, say)."""
    shown = repr(value)
    if len(shown) <= 80:
        return shown
    return f"{shown[:60]}... ({len(value) if isinstance(value, str) else len(shown)} characters)"


def _fail(env: str, key: str, value: object, allowed: str) -> SettingsError:
    return SettingsError(f"setting {key}={_shown(value)} (env {env}) is not allowed: {allowed}")


def _int(env: str, key: str, value: object) -> int:
    low, high = _INT_RANGES[key]
    allowed = f"an integer from {low} to {high}"
    # Values given with -c on the command line arrive as strings. ASCII digits only (Python's int() also takes
    # other scripts' digits), and few enough that int() takes them (it refuses over 4,300).
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(env, key, value, allowed)
    return value


def _choice(env: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(env, key, value, "one of " + ", ".join(choices))
    return str(value)


def _bool(env: str, key: str, value: object) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"  # given with -c on the command line
    if not isinstance(value, bool):
        raise _fail(env, key, value, "true or false")
    return value


def _origins(env: str, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # -c corsOrigins=https://a.example,https://b.example
        value = [part.strip() for part in value.split(",") if part.strip()]
    allowed = (
        '"*" alone, or a non-empty list of origins as browsers send them, like "https://www.example.com" '
        "(lower case, no path, no default port, no leading zeros in a port, IPv6 in its shortest form)"
    )
    if not isinstance(value, list) or not value or not all(isinstance(o, str) for o in value):
        raise _fail(env, key, value, allowed)
    if "*" in value and len(value) > 1:
        raise _fail(env, key, value, allowed)
    for origin in value:
        if origin == "*":
            continue
        if not _browser_origin(origin):
            raise _fail(env, key, origin, allowed)
    return tuple(value)


def _browser_origin(origin: str) -> bool:
    """Whether a browser can send ``origin`` as it is written: CORS compares origins byte for byte, and a browser
    sends no default port, no leading zeros, an IPv6 address in its shortest form."""
    match = _ORIGIN.match(origin)
    if not match or ".." in origin:
        return False
    if match[3]:
        try:
            if ipaddress.IPv6Address(match[3]).compressed != match[3]:
                return False
        except ValueError:
            return False
    return match[5] is None or (int(match[5]) < 65536 and int(match[5]) != _DEFAULT_PORTS[match[1]])


def _optional(env: str, key: str, value: object, pattern: re.Pattern[str], allowed: str) -> str | None:
    if value is None or value in ("", "null"):  # -c domainName=null, as the message says
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise _fail(env, key, value, allowed)
    return value


def parse_settings(
    env_name: object,
    environments: object,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build :class:`Settings` for ``env_name`` from the ``putonly:environments`` context value.

    ``overrides`` are single keys given on the command line (``-c writeCapUnits=500``); they win
    over the environment's values.
    """
    if not isinstance(environments, Mapping) or not environments:
        raise SettingsError(
            "context putonly:environments is missing or empty: cdk.json must define at least one environment"
        )
    env = DEFAULT_ENV if env_name in (None, "") else env_name
    if not isinstance(env, str) or env not in environments:
        raise SettingsError(f"setting env={_shown(env)} is not allowed: one of {', '.join(sorted(environments))}")
    if not _ENV_NAME.match(env):
        raise SettingsError(
            f"environment name {_shown(env)} in cdk.json is not allowed: a lower-case letter, then lower-case letters, "
            "digits and hyphens (up to 41 characters; it goes into the stack names, PutOnly-<env>-Data)"
        )
    raw = environments[env]
    if not isinstance(raw, Mapping):
        raise SettingsError(f"context putonly:environments.{env} must be an object of settings")
    values = {**raw, **(overrides or {})}

    unknown = sorted(set(values) - set(_KEYS))
    if unknown:
        raise _fail(env, unknown[0], values[unknown[0]], "a known key: " + ", ".join(SETTING_KEYS))
    optional = (
        "domainName",
        "certificateArn",
        "alarmEmail",
        "analyticsExport",
        "consentDefault",
        "honorGlobalPrivacyControl",
    )
    missing = [k for k in _KEYS if k not in values and k not in optional]
    if missing:
        raise SettingsError(f"setting {missing[0]} (env {env}) is missing from cdk.json")

    region = values["region"]
    if not _is_region(region):
        raise _fail(
            env, "region", region, 'an AWS region name like "us-east-1" (China and GovCloud regions are not supported)'
        )

    domain = _optional(
        env, "domainName", values.get("domainName"), _HOSTNAME, 'null, or a host name like "t.example.com"'
    )
    cert = _optional(
        env,
        "certificateArn",
        values.get("certificateArn"),
        _CERT_ARN,
        "null, or the ARN of an ACM certificate in us-east-1 (CloudFront reads certificates only there)",
    )
    if (domain is None) != (cert is None):
        key, value = ("certificateArn", cert) if domain is None else ("domainName", domain)
        raise _fail(env, key, value, "domainName and certificateArn must be set together, or both null")

    email = _optional(
        env, "alarmEmail", values.get("alarmEmail"), _EMAIL, "null, or an email address for alarm notices"
    )
    analytics = _bool(env, "analyticsExport", values.get("analyticsExport", False))
    honor_gpc = _bool(env, "honorGlobalPrivacyControl", values.get("honorGlobalPrivacyControl", True))

    ints = {key: _int(env, key, values[key]) for key in _INT_RANGES}
    if ints["maxEventBytes"] > ints["envelopeMaxBytes"] // 2:
        raise _fail(
            env,
            "maxEventBytes",
            ints["maxEventBytes"],
            "at most half of envelopeMaxBytes (an envelope is meant to hold several events)",
        )
    if ints["outboxMaxBytes"] < ints["envelopeMaxBytes"]:
        raise _fail(env, "outboxMaxBytes", ints["outboxMaxBytes"], "at least envelopeMaxBytes")

    parsed: dict[str, Any] = {
        "env_name": env,
        "region": region,
        "cors_origins": _origins(env, "corsOrigins", values["corsOrigins"]),
        "removal_policy": _choice(env, "removalPolicy", values["removalPolicy"], _REMOVAL_POLICIES),
        "price_class": _choice(env, "priceClass", values["priceClass"], _PRICE_CLASSES),
        "domain_name": domain,
        "certificate_arn": cert,
        "alarm_email": email,
        "analytics_export": analytics,
        "consent_default": _choice(env, "consentDefault", values.get("consentDefault", "granted"), _CONSENT),
        "honor_global_privacy_control": honor_gpc,
        **{_KEYS[key]: value for key, value in ints.items()},
    }
    assert {f.name for f in fields(Settings)} == set(parsed)
    return Settings(**parsed)
