"""The event layer and signup forms (issue 14): a form signup starts automations when the person
confirms it (pending -> subscribed on the membership, source "form"), not while it is pending; the
forms function and the API run as their template functions (IAM enforced)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config

from beacon import wiring
from beacon.tracking.domain_events import DomainEvent, events_of
from beacon_local.resources import Resources
from beacon_local.streams import TableStream
from tests.integration import test_api, test_forms
from tests.integration.test_api import Client, new_list
from tests.integration.test_forms import Public, Signups, confirm_path, new_form, signed_up, unique

api = test_api.api
tenant_a, a = test_api.tenant_a, test_api.a
forms_handler, public, signups = test_forms.forms_handler, test_forms.public, test_forms.signups


def _subscribed(stream: TableStream) -> list[DomainEvent]:
    return [e for e in events_of(stream.read(), wiring.stream_deps()) if e.type == "contact.subscribed"]


def test_a_form_signup_starts_automations_when_confirmed_not_while_pending(
        aws: Resources, a: Client, public: Public, signups: Signups) -> None:
    streams = boto3.client("dynamodbstreams", region_name=aws.region,
                           config=botocore.config.Config(account_id_endpoint_mode="disabled"))
    stream = TableStream(aws.client("dynamodb"), streams, aws.tables["ContactsTable"])
    lst = new_list(a, "Welcome list")
    step: dict[str, Any] = {"after_seconds": 0, "subject": "Welcome", "from_email": "hello@alpha.example.com",
                            "html": "<p>Welcome</p>"}
    status, automation = a.post("/v1/automations", {"name": "Welcome", "steps": [step],
                                                    "trigger": {"type": "subscribed", "list_id": lst["id"]}})
    assert status == 201, automation
    assert a.post(f"/v1/automations/{automation['id']}/activate", {})[0] == 200
    form = new_form(a, [lst["id"]])
    address = unique("fan")
    message = signed_up(public, signups, form, address)
    assert _subscribed(stream) == []  # pending: nobody enters anything yet
    assert public.call("POST", confirm_path(message)).status == 200
    (event,) = _subscribed(stream)
    assert (event.data["email"], event.data["source"], event.list_id, event.automations) == (
        address, "form", lst["id"], True)
    assert public.call("POST", confirm_path(message)).status == 200  # confirmed again: no second event
    assert _subscribed(stream) == []
