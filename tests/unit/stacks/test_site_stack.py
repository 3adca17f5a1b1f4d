"""The Site stack: the tracker site with its config.json; one snapshot; outputs."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import Deployment, mask_asset_hashes


def test_snapshot(dev: Deployment, snapshot: Any) -> None:
    assert mask_asset_hashes(dev.site) == snapshot.use_extension(JSONSnapshotExtension)


def test_outputs_loader_url_snippet_and_region(dev: Deployment) -> None:
    outputs = Template.from_json(dev.site).find_outputs("*")
    assert {"LoaderUrl", "Snippet", "Region"} <= set(outputs)
    snippet = json.dumps(outputs["Snippet"]["Value"])
    assert "<script" in snippet and "/v1/putonly.js" in snippet
