"""cfn-lint finds no error and no warning (other than the ones .cfnlintrc.yaml lists with reasons)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, Synth


def test_cfn_lint_is_clean(synthesized: Synth) -> None:
    templates = sorted(str(p) for p in synthesized.outdir.glob("*.template.json"))
    assert len(templates) == 9
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--config-file", str(ROOT / ".cfnlintrc.yaml"), "--", *templates],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
