"""beacon.ports.ses_direct reads two private parts of a botocore client. These tests fail loudly
when botocore moves out of the range they were proven on or changes those parts, and check that
the sender then falls back to the client's own pipeline (with a warning) instead of breaking sends.

If one fails after a botocore upgrade: re-run tests/unit/test_ses_direct.py and
tests/integration/test_ses_direct_moto.py on the new version (they prove the direct request equals
botocore's and is accepted by a SigV4-checking moto), then widen the pin in pyproject.toml.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import botocore
import pytest
from packaging.requirements import Requirement

from beacon.ports import ses_direct
from beacon.ports.ses import SesV2Sender
from tests.unit.test_ses_direct import EMAIL, Stub, _client

ROOT = Path(__file__).resolve().parents[2]


def _pinned_botocore() -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, dependencies) if r.name == "botocore")


def test_the_installed_botocore_is_in_the_range_ses_direct_was_proven_on() -> None:
    pin = _pinned_botocore()
    assert pin.specifier.contains(botocore.__version__), (
        f"botocore {botocore.__version__} is outside {pin.specifier}, the range beacon.ports.ses_direct "
        "was proven on: re-prove it (see this module's doc) and move the pin")


def test_the_private_parts_it_reads_are_there() -> None:
    client = _client()
    credentials, http = ses_direct.internals(client)
    assert credentials is client._request_signer._credentials
    assert credentials.get_frozen_credentials().access_key == "AKIDEXAMPLE"
    assert http is client._endpoint.http_session
    assert ses_direct.unsupported(client) is None
    assert SesV2Sender(client)._direct is not None


class _ChangedSigner:
    """A botocore whose request signer keeps its credentials elsewhere."""

    def __init__(self, original: Any) -> None:
        self._creds = original._credentials


@pytest.mark.parametrize("change", ["signer", "credentials", "endpoint"])
def test_changed_internals_fall_back_to_the_client_and_warn(change: str, caplog: pytest.LogCaptureFixture) -> None:
    client = _client()
    saved = client._request_signer, client._request_signer._credentials
    if change == "signer":
        client._request_signer = _ChangedSigner(client._request_signer)
    elif change == "credentials":
        client._request_signer._credentials = SimpleNamespace(access_key="a", secret_key="b")
    else:
        client._endpoint = SimpleNamespace()  # no http_session
    with pytest.raises(ses_direct.InternalsChanged):
        ses_direct.internals(client)
    assert "internals changed" in (ses_direct.unsupported(client) or "")
    sender = SesV2Sender(client)
    assert sender._direct is None
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage() == "SendEmail through botocore's pipeline"
    assert "internals changed" in warning.__dict__["reason"]
    if change == "endpoint":
        return  # the stand-in endpoint cannot send for the client either
    stub = Stub(client)
    # the changed botocore's own pipeline signs its own way: here, as the installed one does
    client._request_signer, client._request_signer._credentials = saved
    assert sender.send(EMAIL) == "m-1" and len(stub.requests) == 1
