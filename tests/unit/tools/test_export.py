"""The analyst policy allows exactly what the export CLI needs, and the CLI starts without aws_cdk."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cdk_app.tools.export import REQUIRED_ACTIONS, Checkpoint
from tests.helpers import ROOT, Deployment, managed_policy

OPERATIONS = {"describe_table": "DescribeTable", "query": "Query", "scan": "Scan", "batch_get_item": "BatchGetItem"}


def _analyst_actions(template: dict[str, Any]) -> set[str]:
    (statement,) = managed_policy(template, "ReadEvents")["Properties"]["PolicyDocument"]["Statement"]
    return set(statement["Action"])


def test_every_call_the_cli_makes_is_a_required_action() -> None:
    source = (ROOT / "cdk_app" / "tools" / "export.py").read_text()
    calls = set(re.findall(r"client\.(\w+)\(", source)) | set(re.findall(r"self\.client\.(\w+)\b", source))
    assert calls <= set(OPERATIONS), calls - set(OPERATIONS)
    assert {f"dynamodb:{OPERATIONS[c]}" for c in calls} <= set(REQUIRED_ACTIONS)


def test_analyst_policy_allows_what_the_cli_needs_and_no_write(dev: Deployment) -> None:
    actions = _analyst_actions(dev.data)
    assert set(REQUIRED_ACTIONS) <= actions
    assert not {a for a in actions if re.search(r"Put|Update|Delete|Write|\*", a)}


def test_cli_does_not_import_aws_cdk() -> None:
    code = "import sys, cdk_app.tools.export; print('aws_cdk' in sys.modules, 'jsii' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"


def test_a_checkpoint_keeps_the_rejected_count_across_a_rerun(tmp_path: Path) -> None:
    path = tmp_path / "export.ckpt"
    selection = {"table": "T", "all": True}
    saved = Checkpoint(path, selection, {"0": {"pk": {"S": "a"}}}, rows=7, rejected=3)
    saved.save()
    loaded = Checkpoint.load(path, selection)
    assert (loaded.segments, loaded.rows, loaded.rejected) == (saved.segments, 7, 3)
    # A checkpoint written before rejects were counted resumes with none.
    path.write_text(json.dumps({"selection": selection, "segments": {}, "rows": 2}))
    assert Checkpoint.load(path, selection).rejected == 0
