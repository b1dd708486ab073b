"""Integration tests run against moto, with the resources that template.yaml declares.

`aws` (session scope) starts `moto.mock_aws()`, creates every table, queue, topic and the SES
configuration set from template.yaml (stage "test") and puts the resolved function environment
into os.environ, so Beacon's settings and models point at them. `clean_aws` (function scope)
empties every table and queue first, so tests share the expensive setup but not their data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from beacon_local.moto_patches import fast_transactions, serialised_dynamodb
from beacon_local.resources import FAKE_CREDENTIALS, Resources, create_resources

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
TOKEN_SECRET = "integration-tests-token-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def _rebind_beacon() -> None:
    """Beacon reads its settings once and caches clients: start it afresh on this environment."""
    try:
        import beacon.shared.config
    except ImportError:
        return
    beacon.shared.config.get_settings.cache_clear()
    try:
        import beacon.shared.aws

        beacon.shared.aws.client.cache_clear()
    except ImportError:
        pass
    try:
        import beacon.db.connection

        beacon.db.connection.bind(beacon.shared.config.get_settings())
    except ImportError:
        pass


@pytest.fixture(scope="session")
def aws() -> Iterator[Resources]:
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    with mock_aws(), fast_transactions(), serialised_dynamodb():
        resources = create_resources(TEMPLATE, stage="test", region=REGION, secret=TOKEN_SECRET)
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        _rebind_beacon()
        yield resources


@pytest.fixture
def clean_aws(aws: Resources) -> Iterator[Resources]:
    aws.clean()
    yield aws
