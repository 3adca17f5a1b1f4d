"""Settings: every key is validated, and a bad value gives one line naming key, value and what is allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import botocore.loaders
import botocore.session
import pytest

from cdk_app.envelope import EVENTS_MAX, INDEX_SHARDS_MAX
from cdk_app.settings import AWS_REGION_REGEX, MAX_ENVELOPE_EVENTS, SettingsError, check_context_keys, parse_settings
from tests.helpers import CERT_ARN, ROOT, cdk_context

ENVIRONMENTS = cdk_context()["putonly:environments"]


def test_dev_is_the_default_environment() -> None:
    settings = parse_settings(None, ENVIRONMENTS)
    assert settings.env_name == "dev"
    assert settings.destroy_on_removal is True
    assert settings.stack_prefix == "PutOnly-dev"


def test_prod_retains_data_and_keeps_events_forever() -> None:
    settings = parse_settings("prod", ENVIRONMENTS)
    assert settings.removal_policy == "retain"
    assert settings.destroy_on_removal is False
    assert settings.retention_days == 0


def test_settings_are_frozen() -> None:
    settings = parse_settings("dev", ENVIRONMENTS)
    with pytest.raises(AttributeError):
        settings.region = "eu-west-1"  # type: ignore[misc]


def test_command_line_overrides_arrive_as_strings_and_are_parsed() -> None:
    settings = parse_settings(
        "dev", ENVIRONMENTS, {"writeCapUnits": "500", "corsOrigins": "https://a.example,https://b.example:8443"}
    )
    assert settings.write_cap_units == 500
    assert settings.cors_origins == ("https://a.example", "https://b.example:8443")


def test_alarm_email_and_analytics_export() -> None:
    settings = parse_settings("dev", ENVIRONMENTS, {"alarmEmail": "ops@example.com", "analyticsExport": "true"})
    assert (settings.alarm_email, settings.analytics_export) == ("ops@example.com", True)
    assert parse_settings("prod", ENVIRONMENTS).analytics_export is True
    assert parse_settings("dev", ENVIRONMENTS).alarm_email is None


def test_custom_domain_with_certificate() -> None:
    settings = parse_settings("dev", ENVIRONMENTS, {"domainName": "t.example.com", "certificateArn": CERT_ARN})
    assert (settings.domain_name, settings.certificate_arn) == ("t.example.com", CERT_ARN)


def test_tracker_limits_are_published_with_their_config_names() -> None:
    limits = parse_settings("dev", ENVIRONMENTS).tracker_limits()
    assert set(limits) == {
        "maxEventBytes",
        "envelopeMaxBytes",
        "envelopeMaxEvents",
        "maxDelaySeconds",
        "outboxMaxEvents",
        "outboxMaxBytes",
        "retentionDays",
        "indexShards",
        "consentDefault",
        "honorGlobalPrivacyControl",
    }


def test_privacy_defaults_are_published_and_overridable() -> None:
    dev = parse_settings("dev", ENVIRONMENTS).tracker_limits()
    assert (dev["consentDefault"], dev["honorGlobalPrivacyControl"]) == ("granted", True)
    denied = parse_settings("prod", ENVIRONMENTS, {"consentDefault": "denied", "honorGlobalPrivacyControl": "false"})
    assert (denied.consent_default, denied.honor_global_privacy_control) == ("denied", False)


def test_index_shards_are_published_and_bounded_by_what_readers_query() -> None:
    assert parse_settings("dev", ENVIRONMENTS).tracker_limits()["indexShards"] == 8
    assert parse_settings("prod", ENVIRONMENTS).tracker_limits()["indexShards"] == 8
    assert parse_settings("prod", ENVIRONMENTS, {"indexShards": 1}).index_shards == 1
    # Readers (the export) query shards up to envelope.INDEX_SHARDS_MAX: the setting allows no more.
    assert parse_settings("dev", ENVIRONMENTS, {"indexShards": str(INDEX_SHARDS_MAX)}).index_shards == INDEX_SHARDS_MAX
    with pytest.raises(SettingsError, match=f"an integer from 1 to {INDEX_SHARDS_MAX}$"):
        parse_settings("dev", ENVIRONMENTS, {"indexShards": INDEX_SHARDS_MAX + 1})


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("region", {"region": "mars-1"}, "setting region='mars-1' (env dev) is not allowed: an AWS region name"),
    ("region-type", {"region": 42}, "setting region=42"),
    ("cap-zero", {"writeCapUnits": 0}, "setting writeCapUnits=0 (env dev) is not allowed: an integer from 1 to 40000"),
    ("cap-huge", {"writeCapUnits": 40001}, "writeCapUnits=40001"),
    ("cap-bool", {"writeCapUnits": True}, "writeCapUnits=True"),
    ("cap-float", {"writeCapUnits": 1.5}, "writeCapUnits=1.5"),
    ("cap-text", {"writeCapUnits": "lots"}, "writeCapUnits='lots'"),
    ("retention", {"retentionDays": -1}, "retentionDays=-1 (env dev) is not allowed: an integer from 0 to 36500"),
    ("cors-empty", {"corsOrigins": []}, "corsOrigins=[]"),
    ("cors-path", {"corsOrigins": ["https://a.example/path"]}, "corsOrigins='https://a.example/path'"),
    ("cors-star-mixed", {"corsOrigins": ["*", "https://a.example"]}, '"*" alone'),
    ("cors-scheme", {"corsOrigins": ["ftp://a.example"]}, "corsOrigins='ftp://a.example'"),
    # Browsers send origins lower case and without a default port; CORS compares them byte for byte.
    ("cors-default-port", {"corsOrigins": ["https://a.example:443"]}, "corsOrigins='https://a.example:443'"),
    ("cors-http-port", {"corsOrigins": ["http://a.example:80"]}, "(lower case, no path, no default port, no leading"),
    ("cors-upper", {"corsOrigins": ["https://A.example"]}, "corsOrigins='https://A.example'"),
    ("cors-port-range", {"corsOrigins": ["https://a.example:99999"]}, "corsOrigins='https://a.example:99999'"),
    ("cors-dash", {"corsOrigins": ["https://-"]}, "corsOrigins='https://-'"),
    ("region-nowhere", {"region": "zz-nowhere-9"}, "region='zz-nowhere-9'"),
    ("region-gov", {"region": "us-gov-west-1"}, "(China and GovCloud regions are not supported)"),
    ("region-china", {"region": "cn-north-1"}, "region='cn-north-1'"),
    ("cap-digits", {"writeCapUnits": "9" * 5000}, "writeCapUnits='" + "9" * 59 + "... (5000 characters) (env dev)"),
    # botocore's pattern takes \\w: upper case and "_" passed, and failed only at deploy
    ("region-upper", {"region": "us-EAST-1"}, "region='us-EAST-1'"),
    ("region-underscore", {"region": "us-east_1x-1"}, "region='us-east_1x-1'"),
    ("region-digits", {"region": "eu-west-0099"}, "region='eu-west-0099'"),
    ("cors-port-zero", {"corsOrigins": ["https://a.example:08443"]}, "corsOrigins='https://a.example:08443'"),
    (
        "cors-ipv6-long",
        {"corsOrigins": ["http://[0:0:0:0:0:0:0:1]:8080"]},
        "corsOrigins='http://[0:0:0:0:0:0:0:1]:8080'",
    ),
    ("cors-dots", {"corsOrigins": ["https://a..example"]}, "corsOrigins='https://a..example'"),
    ("cap-arabic-digits", {"writeCapUnits": "\u0665\u0660\u0660"}, "writeCapUnits='\u0665\u0660\u0660'"),
    (
        "removal",
        {"removalPolicy": "snapshot"},
        "removalPolicy='snapshot' (env dev) is not allowed: one of retain, destroy",
    ),
    ("price", {"priceClass": "cheap"}, "priceClass='cheap' (env dev) is not allowed: one of PriceClass_100"),
    ("domain-bad", {"domainName": "not a host", "certificateArn": CERT_ARN}, "domainName='not a host'"),
    ("domain-alone", {"domainName": "t.example.com"}, "domainName and certificateArn must be set together"),
    ("cert-alone", {"certificateArn": CERT_ARN}, "certificateArn="),
    (
        "cert-region",
        {"domainName": "t.example.com", "certificateArn": CERT_ARN.replace("us-east-1", "eu-west-1")},
        "ACM certificate in us-east-1",
    ),
    ("event-bytes", {"maxEventBytes": 10}, "maxEventBytes=10 (env dev) is not allowed: an integer from 64 to 65536"),
    ("event-vs-envelope", {"maxEventBytes": 9000, "envelopeMaxBytes": 16384}, "at most half of envelopeMaxBytes"),
    ("envelope-huge", {"envelopeMaxBytes": 400_000}, "envelopeMaxBytes=400000"),
    ("outbox-small", {"outboxMaxBytes": 65536, "envelopeMaxBytes": 100_000}, "outboxMaxBytes=65536"),
    (
        "email",
        {"alarmEmail": "ops at example"},
        "alarmEmail='ops at example' (env dev) is not allowed: null, or an email",
    ),
    ("shards-zero", {"indexShards": 0}, "setting indexShards=0 (env dev) is not allowed: an integer from 1 to 32"),
    ("shards-many", {"indexShards": 33}, "indexShards=33 (env dev) is not allowed: an integer from 1 to 32"),
    ("shards-text", {"indexShards": "eight"}, "indexShards='eight'"),
    ("consent", {"consentDefault": "no"}, "consentDefault='no' (env dev) is not allowed: one of granted, denied"),
    ("gpc", {"honorGlobalPrivacyControl": 1}, "honorGlobalPrivacyControl=1 (env dev) is not allowed: true or false"),
    ("analytics", {"analyticsExport": "yes"}, "analyticsExport='yes' (env dev) is not allowed: true or false"),
    ("unknown", {"writeCap": 5}, "setting writeCap=5 (env dev) is not allowed: a known key: region, writeCapUnits"),
]


@pytest.mark.parametrize(("override", "message"), [(o, m) for _, o, m in BAD], ids=[i for i, _, _ in BAD])
def test_bad_values_name_key_value_and_what_is_allowed(override: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as err:
        parse_settings("dev", ENVIRONMENTS, override)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_an_environment_name_that_cannot_name_a_stack_is_refused_in_one_line() -> None:
    environments = {"staging_eu": ENVIRONMENTS["dev"]}
    with pytest.raises(
        SettingsError, match=r"^environment name 'staging_eu' in cdk.json is not allowed: a lower-case "
    ):
        parse_settings("staging_eu", environments)
    # Lower case: Glue and Athena names are lower-cased, so Prod and prod would share them.
    with pytest.raises(SettingsError, match=r"^environment name 'Prod' in cdk.json is not allowed"):
        parse_settings("Prod", {"Prod": ENVIRONMENTS["dev"]})
    with pytest.raises(SettingsError, match=r"^setting env='xxxxxx.*\.\.\. \(5000 characters\) is not allowed"):
        parse_settings("x" * 5000, ENVIRONMENTS)
    assert parse_settings("staging-eu", {"staging-eu": ENVIRONMENTS["dev"]}).stack_prefix == "PutOnly-staging-eu"


def test_origins_as_browsers_send_them_pass() -> None:
    origins = ["https://b.example:8443", "http://localhost:3000", "http://127.0.0.1:8000", "http://[::1]:8080"]
    assert parse_settings("dev", ENVIRONMENTS, {"corsOrigins": origins}).cors_origins == tuple(origins)


def test_null_given_on_the_command_line_unsets_an_optional_setting() -> None:
    base = {"domainName": "t.example.com", "certificateArn": CERT_ARN, "alarmEmail": "ops@example.com"}
    settings = parse_settings("dev", {"dev": {**ENVIRONMENTS["dev"], **base}}, dict.fromkeys(base, "null"))
    assert (settings.domain_name, settings.certificate_arn, settings.alarm_email) == (None, None, None)


def test_regions_are_those_botocore_knows_for_the_standard_partition() -> None:
    partitions = botocore.loaders.create_loader().load_data("endpoints")["partitions"]
    (aws,) = [p for p in partitions if p["partition"] == "aws"]
    assert aws["regionRegex"] == AWS_REGION_REGEX
    for region in botocore.session.get_session().get_available_regions("cognito-identity"):
        assert parse_settings("dev", ENVIRONMENTS, {"region": region}).region == region


def test_every_region_of_the_standard_partition_passes() -> None:
    for region in ("us-east-1", "eu-central-2", "ap-southeast-7", "mx-central-1", "il-central-1"):
        assert parse_settings("dev", ENVIRONMENTS, {"region": region}).region == region


def test_envelopes_too_big_for_a_keepalive_copy_are_allowed_with_a_warning() -> None:
    assert parse_settings("dev", ENVIRONMENTS).warnings() == []
    assert parse_settings("dev", ENVIRONMENTS, {"envelopeMaxBytes": 29_000}).warnings() == []
    (warning,) = parse_settings("dev", ENVIRONMENTS, {"envelopeMaxBytes": 100_000}).warnings()
    assert warning.startswith("envelopeMaxBytes=100000 (env dev): above 29000, a full envelope's keepalive copy")


def test_unknown_environment_lists_the_defined_ones() -> None:
    with pytest.raises(SettingsError, match=r"^setting env='staging' is not allowed: one of dev, prod$"):
        parse_settings("staging", ENVIRONMENTS)


def test_missing_key_is_named() -> None:
    broken = {"dev": {k: v for k, v in ENVIRONMENTS["dev"].items() if k != "region"}}
    with pytest.raises(SettingsError, match=r"^setting region \(env dev\) is missing from cdk.json$"):
        parse_settings("dev", broken)


def test_missing_environments_block() -> None:
    with pytest.raises(SettingsError, match="putonly:environments is missing"):
        parse_settings("dev", None)


def run_app(context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({**cdk_context(), **context}), "CDK_OUTDIR": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("context", "line"),
    [
        ({"env": "prod", "writeCapUnits": "0"}, "putonly: setting writeCapUnits=0 (env prod) is not allowed"),
        ({"env": "qa"}, "putonly: setting env='qa' is not allowed: one of dev, prod"),
        ({"indexShards": "64"}, "putonly: setting indexShards=64 (env dev) is not allowed: an integer from 1 to 32"),
        # CDK keeps any -c key: a misspelt setting would otherwise be ignored and the default deployed.
        ({"writeCapUnit": "500"}, "putonly: context key 'writeCapUnit' is not a setting: did you mean writeCapUnits?"),
    ],
)
def test_synth_stops_with_one_line_and_no_stack_trace(context: dict[str, Any], line: str) -> None:
    result = run_app(context)
    assert result.returncode == 2
    assert result.stdout == ""
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("putonly:")]
    assert len(errors) == 1 and errors[0].startswith(line)
    assert "Traceback" not in result.stderr and "jsii" not in result.stderr


@pytest.mark.parametrize(
    ("key", "meant"),
    [("writeCapUnit", "writeCapUnits"), ("retentiondays", "retentionDays"), ("INDEXSHARDS", "indexShards"),
     ("corsOrigin", "corsOrigins"), ("evn", "env"),
     # far from "env" by spelling, but plainly meant for it: before, a warning, and dev synthesized
     ("environment", "env"), ("enviroment", "env")],
)  # fmt: skip
def test_a_misspelt_setting_stops_synth_naming_the_setting(key: str, meant: str) -> None:
    with pytest.raises(SettingsError, match=f"context key '{key}' is not a setting: did you mean {meant}[?]"):
        check_context_keys([*cdk_context(), key])


def test_cdk_keys_pass_and_other_keys_are_warned_about() -> None:
    cdk_own = ["@aws-cdk/core:checkSecretUsage", "aws:cdk:enable-path-metadata", "cli-telemetry",
               "availability-zones:account=123456789012:region=us-east-1"]  # fmt: skip
    assert check_context_keys([*cdk_context(), *cdk_own, "writeCapUnits", "env"]) == []
    (warning,) = check_context_keys(["favouriteColour"])
    assert warning.startswith("context key 'favouriteColour' is not a setting and is ignored (settings: region, ")
    assert warning.endswith(", analyticsExport, env)")


def test_an_unrelated_key_is_warned_about_and_synth_goes_on(tmp_path: Any) -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({**cdk_context(), "favouriteColour": "teal"}),
           "CDK_OUTDIR": str(tmp_path)}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "putonly: context key 'favouriteColour' is not a setting and is ignored" in result.stderr
    assert (tmp_path / "manifest.json").is_file()


def test_make_synth_hands_its_args_to_cdk() -> None:
    """The README's `make synth ARGS="-c key=value"`: the override reaches the app (a bad one stops synth)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "synth", "ARGS=-c writeCapUnits=0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "putonly: setting writeCapUnits=0 (env dev) is not allowed: an integer from 1 to 40000" in result.stderr


def test_envelopes_hold_no_more_events_than_readers_accept() -> None:
    """Readers refuse items claiming more than envelope.EVENTS_MAX events: the setting allows no more."""
    assert MAX_ENVELOPE_EVENTS == EVENTS_MAX
    with pytest.raises(SettingsError, match=f"an integer from 1 to {EVENTS_MAX}$"):
        parse_settings("dev", ENVIRONMENTS, {"envelopeMaxEvents": EVENTS_MAX + 1})
