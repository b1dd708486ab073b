"""A local Lambda runtime: loads each function's handler from its CodeUri and invokes it.

Every function's file is `handler.py`, so each is imported by path under its own module name
(`beacon_fn_<LogicalId>`). The resolved template environment must be in `os.environ` before
the first handler is imported (Beacon reads its settings once). Invocations of one function may
run concurrently in threads, like concurrent Lambda execution environments sharing one process.
"""

from __future__ import annotations

import contextvars
import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from beacon_local.resources import ACCOUNT_ID
from beacon_local.template import FunctionSpec, Template

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

# The logical id of the function whose invocation is running (beacon_local.iam checks its calls).
CURRENT_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("beacon_function", default=None)


@dataclass
class LambdaContext:
    """What the Lambda Python runtime passes as `context`."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def apply_environment(env: Mapping[str, str]) -> None:
    """Put the resolved environment into os.environ (before any `beacon` import)."""
    os.environ.update({k: str(v) for k, v in env.items()})
    os.environ.pop("AWS_PROFILE", None)  # a developer's profile must not leak into the local stack


class LocalFunction:
    """One template function: its handler is imported on first use (or by `load()`)."""

    def __init__(self, spec: FunctionSpec, code_root: Path, region: str = "us-east-1", stage: str = "local") -> None:
        self.spec = spec
        self.code_root = code_root
        self.name = f"beacon-{stage}-{spec.logical_id}"
        self.arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"
        self._handler: Handler | None = None
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors = 0

    @property
    def path(self) -> Path:
        module, _, _func = self.spec.handler.rpartition(".")
        return (self.code_root / self.spec.code_uri / (module.replace(".", "/") + ".py")).resolve()

    @property
    def module_name(self) -> str:
        return f"beacon_fn_{self.spec.logical_id}"

    def load(self) -> Handler:
        with self._lock:
            if self._handler is None:
                self._handler = self._import()
            return self._handler

    def _import(self) -> Handler:
        path = self.path
        if not path.is_file():
            raise FileNotFoundError(f"{self.spec.logical_id}: no handler file {path}")
        spec = importlib.util.spec_from_file_location(self.module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module
        started = time.perf_counter()
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module_name, None)
            raise
        func = getattr(module, self.spec.handler.rpartition(".")[2], None)
        if not callable(func):
            raise ImportError(f"{path} has no callable {self.spec.handler}")
        log.info("loaded %s from %s (%.0f ms)", self.spec.logical_id, path, (time.perf_counter() - started) * 1000)
        return func

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=self.arn,
            timeout_seconds=self.spec.timeout,
        )

    def invoke(self, event: Any) -> Any:
        """Call the handler; exceptions propagate to the caller (the event source decides)."""
        handler = self.load()
        context = self.context()
        started = time.perf_counter()
        self.invocations += 1
        function = CURRENT_FUNCTION.set(self.spec.logical_id)
        try:
            return handler(event, context)
        except Exception:
            self.errors += 1
            raise
        finally:
            CURRENT_FUNCTION.reset(function)
            elapsed = time.perf_counter() - started
            log.debug("%s %s %.1f ms", self.spec.logical_id, context.aws_request_id, elapsed * 1000)
            if elapsed > self.spec.timeout:
                log.warning(
                    "%s ran %.1f s, longer than its Timeout of %d s (Lambda would have stopped it)",
                    self.spec.logical_id, elapsed, self.spec.timeout,
                )


class Runtime:
    """All functions of a template, by logical id."""

    def __init__(
        self,
        template: Template,
        code_root: str | Path | None = None,
        *,
        region: str = "us-east-1",
        stage: str = "local",
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`environment` (the resolved template environment) goes into os.environ now, before
        any handler, and so any `beacon` module, is imported."""
        if environment is not None:
            apply_environment(environment)
        self.template = template
        self.code_root = Path(code_root) if code_root else template.root
        self.functions = {
            lid: LocalFunction(spec, self.code_root, region, stage) for lid, spec in template.functions.items()
        }

    def load_all(self, strict: bool = False) -> list[str]:
        """Import every handler now (cold starts at start-up). Returns the ids that failed."""
        failed = []
        for lid, function in self.functions.items():
            try:
                function.load()
            except Exception:
                if strict:
                    raise
                log.exception("could not load %s; its invocations will fail until it imports", lid)
                failed.append(lid)
        return failed

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.functions[logical_id].invoke(event)
