"""The local stack reads the templates of the last synth, not whatever cdk.out/ still holds from an earlier one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cdk_app.local.templates import table_definition
from tests.helpers import CDK_OUT


def test_templates_of_an_earlier_synth_are_not_read(tmp_path: Path) -> None:
    """`make synth ENV=prod` then `make synth` leaves prod's templates beside dev's: the manifest says which count."""
    shutil.copy(CDK_OUT / "manifest.json", tmp_path)
    current = json.loads((CDK_OUT / "PutOnly-dev-Data.template.json").read_text())
    (tmp_path / "PutOnly-dev-Data.template.json").write_text(json.dumps(current))
    stale = json.loads(json.dumps(current))
    for resource in stale["Resources"].values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            resource["Properties"]["KeySchema"] = [{"AttributeName": "stale", "KeyType": "HASH"}]
    # Sorts before PutOnly-dev-*: a glob would read it first.
    (tmp_path / "PutOnly-a-Data.template.json").write_text(json.dumps(stale))
    assert table_definition(tmp_path)["KeySchema"] == table_definition(CDK_OUT)["KeySchema"]
    assert table_definition(tmp_path)["KeySchema"][0]["AttributeName"] == "pk"


def test_no_synth_yet_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no manifest.json: run `make synth` first"):
        table_definition(tmp_path)
