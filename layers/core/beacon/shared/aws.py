"""AWS clients, built from one botocore session and cached per service.

Plain botocore (no boto3) keeps cold starts short. The local stack registers its SES simulator
hooks on `SESSION` (after-call.sesv2.SendEmail), so everything Beacon sends passes through them.

The send path makes ~50 SES calls at once from a thread pool. Each time a thread lets go of the
GIL while others wait, the interpreter hands it over (a futex wake-up and a thread switch), and
botocore lets go of it twice per call for a few microseconds of work: `os.urandom` for the
invocation id (uuid4) and hashlib over a request body larger than 2 KiB (the SigV4 payload hash).
`quiet_gil` registers two handlers that do the same work without letting go: the invocation id
from a urandom-seeded PRNG (it is a correlation id, not a secret) and the payload hash in 2 KiB
steps, handed to the signer as the `X-Amz-Content-SHA256` header (part of SigV4, which uses it
instead of hashing again). The network wait still releases the GIL, as it must.
"""

from __future__ import annotations

import hashlib
import os
import random
import uuid
from functools import lru_cache
from typing import Any

import botocore.config
import botocore.session

SESSION = botocore.session.get_session()
_HASH_STEP = 2047  # hashlib keeps the GIL for updates below 2 KiB
_ids = random.Random()  # seeded from os.urandom


# The tracking handlers' client (the pixel, the redirect): their functions time out at 5 s and the
# answer waits on its write at most beacon.tracking.opens_and_clicks.WRITE_BUDGET_SECONDS (1 s). One
# attempt gives up after TRACKING_CONNECT_TIMEOUT + TRACKING_READ_TIMEOUT; botocore makes no retry of
# its own (a retry with its backoff could take seconds): record_in_time retries once itself, only
# when the first attempt failed fast enough for a second one to fit in the budget.
TRACKING_CONNECT_TIMEOUT = 0.3
TRACKING_READ_TIMEOUT = 0.6
TRACKING_MAX_ATTEMPTS = 1
# The local stack (`beacon dev`) sets it: its embedded moto runs in the functions' own process and
# shares their GIL, so under a burst of opens it can take longer than TRACKING_READ_TIMEOUT to
# answer a write DynamoDB answers in milliseconds. There the tracking client waits as long as any
# other client, and a slow local answer is never a lost open or click; the short timeouts are what
# AWS runs and what the fault-mode tests exercise.
PATIENT_TRACKING_ENV = "BEACON_LOCAL_PATIENT_TRACKING"


def config(pool: int = 10, *, tracking: bool = False) -> botocore.config.Config:
    short = tracking and os.environ.get(PATIENT_TRACKING_ENV) != "1"
    return botocore.config.Config(
        connect_timeout=TRACKING_CONNECT_TIMEOUT if short else 2,
        read_timeout=TRACKING_READ_TIMEOUT if short else 10,
        retries={"total_max_attempts": TRACKING_MAX_ATTEMPTS, "mode": "standard"} if short
        else {"max_attempts": 3, "mode": "standard"},
        max_pool_connections=pool,
        # Beacon builds every request itself and the service validates it again: skip the
        # client-side pass (a tenth of the send path's CPU)
        parameter_validation=False,
    )


def _invocation_id(context: dict[str, Any], **_kwargs: Any) -> None:
    context.setdefault("retries", {}).setdefault("invocation-id", str(uuid.UUID(int=_ids.getrandbits(128), version=4)))


def payload_sha256(body: bytes) -> str:
    digest = hashlib.sha256()
    view = memoryview(body)
    for start in range(0, len(view), _HASH_STEP):
        digest.update(view[start : start + _HASH_STEP])
    return digest.hexdigest()


def _payload_hash(request: Any, **_kwargs: Any) -> None:
    body = request.body
    if isinstance(body, bytes) and len(body) > _HASH_STEP and "X-Amz-Content-SHA256" not in request.headers:
        request.headers["X-Amz-Content-SHA256"] = payload_sha256(body)


def quiet_gil(client: Any) -> Any:
    """Register the two handlers on a client (not S3, whose signer owns that header)."""
    if client.meta.service_model.service_name != "s3":
        client.meta.events.register("before-call", _invocation_id)
        client.meta.events.register("before-sign", _payload_hash)
    return client


@lru_cache(maxsize=16)
def client(service: str, region: str, endpoint_url: str | None = None, pool: int = 10, *,
           tracking: bool = False) -> Any:
    """A cached client (`tracking`: with the tracking handlers' short timeouts and retries)."""
    return quiet_gil(SESSION.create_client(service, region_name=region, endpoint_url=endpoint_url,
                                           config=config(pool, tracking=tracking)))
