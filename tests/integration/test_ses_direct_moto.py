"""The direct SendEmail against moto with IAM authentication on: moto rebuilds the request it
received and checks its SigV4 signature, as SES does, then accepts the raw message."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.session
import pytest
from moto.core import DEFAULT_ACCOUNT_ID, set_initial_no_auth_action_count
from moto.ses.models import ses_backends

from beacon.ports.ses import OutgoingEmail, SesRejected, SesV2Sender
from beacon.shared import aws

RAW = b"From: news@direct.test\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\n" + "café ✓\r\n".encode() * 2000


def _client(key: str, secret: str) -> Any:
    session = botocore.session.get_session()
    session.set_credentials(key, secret)
    return aws.quiet_gil(session.create_client("sesv2", region_name="us-east-1", config=aws.config(4)))


@pytest.fixture(scope="module")
def iam_key(aws: Any) -> dict[str, str]:
    iam = boto3.client("iam", region_name="us-east-1")
    name = "direct-sender"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    boto3.client("sesv2", region_name="us-east-1").create_email_identity(EmailIdentity="direct.test")
    return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _send(client: Any, direct: bool, to: str = "ann@example.com") -> str:
    return SesV2Sender(client, direct=direct).send(
        OutgoingEmail("news@direct.test", to, RAW, {"account": "a", "campaign": "c", "recipient": "r"}))


def test_a_signed_request_is_accepted_and_the_message_arrives_intact(iam_key: dict[str, str]) -> None:
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    before = len(backend.sent_messages)

    @set_initial_no_auth_action_count(0)
    def send() -> str:
        return _send(_client(iam_key["id"], iam_key["secret"]), direct=True)

    message_id = send()
    assert message_id
    sent = backend.sent_messages[before:]
    assert [m.id for m in sent] == [message_id]
    stored = sent[0].raw_data
    assert (stored.encode() if isinstance(stored, str) else stored) == RAW


@pytest.mark.parametrize("direct", [True, False])
def test_a_wrong_secret_is_refused_by_the_signature_check_on_both_paths(iam_key: dict[str, str], direct: bool) -> None:
    @set_initial_no_auth_action_count(0)
    def send() -> str:
        return _send(_client(iam_key["id"], "not-the-secret"), direct=direct)

    with pytest.raises(Exception, match="SignatureDoesNotMatch"):
        send()


def test_an_unverified_sender_is_a_rejection(aws: Any) -> None:
    client = _client("testing", "testing")
    with pytest.raises(SesRejected, match="MessageRejected"):
        SesV2Sender(client).send(OutgoingEmail("news@nowhere-verified.test", "ann@example.com", RAW, {}))


@pytest.mark.parametrize(("setting", "direct"), [(None, True), ("true", True), ("false", False), ("0", False)])
def test_the_deployment_switch_picks_the_path(aws: Any, monkeypatch: pytest.MonkeyPatch, setting: str | None,
                                              direct: bool) -> None:
    from beacon import wiring

    if setting is None:
        monkeypatch.delenv("BEACON_SES_DIRECT", raising=False)
    else:
        monkeypatch.setenv("BEACON_SES_DIRECT", setting)
    wiring.reset()
    try:
        assert (wiring.ses()._direct is not None) is direct
    finally:
        monkeypatch.undo()
        wiring.reset()
