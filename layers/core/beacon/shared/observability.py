"""Powertools singletons: one Logger and one Metrics for every function (service "beacon").

Both are created on first use, not on import: the tracking handlers import `logger` but touch it
only when something goes wrong, so their cold start does not pay for importing powertools
(~35 ms, measured with `python -X importtime`). Tracer is created only where a handler asks for it
(beacon.shared.observability.tracer()), so the tracking handlers do not import the X-Ray SDK either.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import EphemeralMetrics


class _OnFirstUse:
    """Stands in for an object and builds it when one of its attributes is first used."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.__dict__["_build"] = build
        self.__dict__["_target"] = None

    def _get(self) -> Any:
        if self.__dict__["_target"] is None:
            self.__dict__["_target"] = self.__dict__["_build"]()
        return self.__dict__["_target"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get(), name, value)


def _logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service="beacon")


def _metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace="Beacon", service="beacon")


logger = cast("Logger", _OnFirstUse(_logger))
metrics = cast("Metrics", _OnFirstUse(_metrics))


def invocation_metrics() -> EphemeralMetrics:
    """Metrics of one invocation (namespace and service as `metrics`), flushed by its caller.

    `Metrics` instances share one metric set per process, added to and flushed without a lock:
    right for Lambda (one invocation at a time), not for the local stack, which runs invocations
    in threads of one process (one flush may find the set another emptied and raise).
    """
    from aws_lambda_powertools.metrics import EphemeralMetrics

    return EphemeralMetrics(namespace="Beacon", service="beacon")


@lru_cache(maxsize=1)
def tracer() -> Any:
    from aws_lambda_powertools import Tracer

    return Tracer(service="beacon")


def count_fault(endpoint: str) -> None:
    """One `TrackingFaults` metric (CloudWatch EMF) for a tracking request whose record failed."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name="TrackingFaults", unit=MetricUnit.Count, value=1, namespace="Beacon") as metric:
        metric.add_dimension(name="endpoint", value=endpoint)
