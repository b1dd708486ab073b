"""Powertools singletons: one Logger and one Metrics for every function (service "beacon").

Tracer is created only where a handler asks for it (beacon.observability.tracer()), so the
tracking handlers do not import the X-Ray SDK on their cold start.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="beacon")
metrics = Metrics(namespace="Beacon", service="beacon")


@lru_cache(maxsize=1)
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service="beacon")
