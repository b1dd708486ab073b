"""Integration tests run against moto, with the resources that template.yaml declares.

`aws` (session scope) starts `moto.mock_aws()`, creates every table, queue, topic and the SES
configuration set from template.yaml (stage "test") and puts the resolved function environment
into os.environ, so Beacon's settings and models point at them. `clean_aws` (function scope)
empties every table and queue first, so tests share the expensive setup but not their data.

Least privilege: a handler loaded with `load_function` makes its AWS calls as its template
function, held to that function's IAM statements (beacon_local.iam, "enforce": a call its deployed
role would refuse is answered AccessDenied), and a test during which any such call happened fails,
even if the handler swallowed the error (the tracking handlers do).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from beacon_local.iam import Checker, Permissions, attributed, install
from beacon_local.moto_patches import bounded_streams, fast_transactions, serialised_dynamodb
from beacon_local.resources import FAKE_CREDENTIALS, Resources, create_resources
from tests.integration import ledger_stream

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
    with mock_aws(), fast_transactions(), serialised_dynamodb(), bounded_streams():
        resources = create_resources(TEMPLATE, stage="test", region=REGION, secret=TOKEN_SECRET)
        os.environ.update(resources.environment())
        os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
        _rebind_beacon()
        _CHECKER.permissions = Permissions.from_template(resources.template, resources)
        uninstall = install(_CHECKER)
        ledger_stream.use(resources)
        try:
            yield resources
        finally:
            uninstall()


_CHECKER = Checker(Permissions({}), "enforce")


def load_function(code_uri: str, module_name: str) -> Callable[..., Any]:
    """The handler of the template function whose CodeUri is `code_uri` ("functions/send/"),
    imported under `module_name`, its calls made as that function (see the module doc)."""
    from beacon_local.template import Template

    spec_of = {spec.code_uri.rstrip("/"): spec for spec in Template.load(TEMPLATE).functions.values()}
    function = spec_of[code_uri.rstrip("/")]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / function.code_uri / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return attributed(function.logical_id, module.handler)


@pytest.fixture(autouse=True)
def least_privilege() -> Iterator[Checker]:
    """Fails the test if a function made a call its template role does not allow."""
    seen = len(_CHECKER.denials)
    yield _CHECKER
    denied = _CHECKER.denials[seen:]
    assert not denied, "calls the deployed roles would refuse:\n" + "\n".join(map(str, denied))


@pytest.fixture
def clean_aws(aws: Resources) -> Iterator[Resources]:
    aws.clean()
    yield aws
