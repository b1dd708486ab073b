"""AWS clients, built from one botocore session and cached per service.

Plain botocore (no boto3) keeps cold starts short. The local stack registers its SES simulator
hooks on `SESSION` (after-call.sesv2.SendEmail), so everything Beacon sends passes through them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import botocore.config
import botocore.session

SESSION = botocore.session.get_session()


@lru_cache(maxsize=16)
def client(service: str, region: str, endpoint_url: str | None = None, pool: int = 10) -> Any:
    return SESSION.create_client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=botocore.config.Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=pool,
            # Beacon builds every request itself and the service validates it again: skip the
            # client-side pass (a tenth of the send path's CPU)
            parameter_validation=False,
        ),
    )
