"""The whole local stack in one object: moto, resources, SES simulator, functions, pollers, HTTP.

Start-up order matters: the HTTP socket is bound first (its URL is the public base URL of the
tracking links), then the resources are created and their environment is put into os.environ,
then the SES simulator hooks `beacon.shared.aws.SESSION`, and only then are the handlers imported.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from beacon_local.http import LocalHttpApi
from beacon_local.iam import MODES, Checker, Permissions, install
from beacon_local.moto_patches import install_bounded_streams, install_fast_transactions, install_serialised_dynamodb
from beacon_local.moto_server import MotoServer
from beacon_local.pollers import Pollers
from beacon_local.resources import FAKE_CREDENTIALS, Resources, create_resources
from beacon_local.runtime import Runtime, apply_environment
from beacon_local.ses import SesSimulator
from beacon_local.template import Template, TemplateError, find_template

log = logging.getLogger(__name__)

DEFAULT_OUTBOX = Path(".beacon/outbox")


class LocalStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        outbox: str | Path = DEFAULT_OUTBOX,
        template: str | Path | None = None,
        code_root: str | Path | None = None,
        stage: str = "local",
        region: str = "us-east-1",
        parameters: Mapping[str, Any] | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.template = Template.load(template or find_template())
        self.host = host
        self.port = port
        self.outbox = Path(outbox).resolve()
        self.code_root = Path(code_root) if code_root else self.template.root
        self.stage = stage
        self.region = region
        self.parameters = dict(parameters or {})
        self.extra_environment = dict(environment or {})
        self.moto: MotoServer | None = None
        self.resources: Resources | None = None
        self.runtime: Runtime | None = None
        self.ses: SesSimulator | None = None
        self.pollers: Pollers | None = None
        self.http: LocalHttpApi | None = None
        # BEACON_LOCAL_IAM: "warn" (default) logs an AWS call a function's deployed role would be
        # refused, "enforce" refuses it as AWS would, "off" does not check (beacon_local.iam)
        self.iam_mode = os.environ.get("BEACON_LOCAL_IAM", "warn")
        if self.iam_mode not in MODES:
            raise ValueError(f"BEACON_LOCAL_IAM must be one of {', '.join(MODES)}, not {self.iam_mode!r}")
        self.iam: Checker | None = None
        self._uninstall_iam: Callable[[], None] | None = None

    @property
    def base_url(self) -> str:
        assert self.http is not None, "start() first"
        return self.http.base_url

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = self.region
        install_fast_transactions()  # moto copies a whole table per transaction item otherwise
        install_serialised_dynamodb()  # moto's DynamoDB is not thread-safe: one request at a time
        install_bounded_streams()  # moto keeps every stream record and iterator otherwise: a day of dev grows by GBs
        self.moto = MotoServer(self.host)
        endpoint = self.moto.start()

        self.runtime = Runtime(self.template, self.code_root, region=self.region, stage=self.stage)
        self.http = LocalHttpApi(self.template.http_routes, self.runtime.invoke, self.host, self.port)
        parameters = {"PublicBaseUrl": self.http.base_url, **self.parameters}
        self.resources = create_resources(
            self.template, self.stage, endpoint, self.region, parameters=parameters
        )
        env = self.resources.environment()
        env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally
        # an account erasure waits for the stats roll-up's stream (5 s batching window locally)
        env.setdefault("BEACON_ERASURE_SETTLE_SECONDS", "8")
        env["BEACON_WEBHOOKS_ALLOW_LOCAL"] = "1"  # webhooks may go to http://127.0.0.1 (a local receiver)
        # beacon.shared.aws.PATIENT_TRACKING_ENV: the embedded moto can take longer under load than the
        # tracking client's AWS timeouts; no open or click is lost to it
        env["BEACON_LOCAL_PATIENT_TRACKING"] = "1"
        env.update(self.extra_environment)
        apply_environment(env)
        if self.iam_mode != "off":
            try:
                permissions = Permissions.from_template(self.template, self.resources)
            except TemplateError as exc:  # a template SAM cannot deploy has no roles to check against
                if self.iam_mode == "enforce":
                    raise
                log.warning("least-privilege check off: %s", exc)
            else:
                self.iam = Checker(permissions, self.iam_mode)
                self._uninstall_iam = install(self.iam)

        self.ses = SesSimulator(
            self.outbox, self.resources.ses_events_topic_arn, region=self.region, endpoint_url=endpoint
        ).install()
        self.runtime.load_all()
        self.pollers = Pollers(self.resources, self.runtime.invoke)
        self.pollers.start()
        self.http.start()

    def stop(self) -> None:
        started = time.monotonic()
        if self.http is not None:
            self.http.stop()
            self.http = None
        if self.pollers is not None:
            self.pollers.stop()
            self.pollers = None
        if self.ses is not None:
            self.ses.stop()
            self.ses = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self._uninstall_iam is not None:
            self._uninstall_iam()
            self._uninstall_iam = None
        log.info("local stack stopped in %.1f s", time.monotonic() - started)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
