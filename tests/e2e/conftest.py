"""Start `beacon dev` as a subprocess and wait until it answers (shared by the e2e modules)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevStack:
    process: subprocess.Popen[bytes]
    port: int
    outbox: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self, last: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-last:] if self.log.exists() else ""

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def start_dev(workdir: Path, *extra: str, env: dict[str, str] | None = None) -> DevStack:
    """`python -m beacon_local.cli dev --port <free> --outbox <workdir>/outbox ...`, ready to serve."""
    port = free_port()
    outbox = workdir / "outbox"
    log = workdir / "beacon-dev.log"
    environment = {k: v for k, v in os.environ.items() if k not in {"AWS_ENDPOINT_URL", "AWS_PROFILE"}}
    # every AWS call a function makes is held to its template.yaml role (beacon_local.iam): one the
    # deployed role would refuse is refused here too, so the end-to-end tests prove least privilege
    environment.update({"BEACON_LOCAL_IAM": "enforce"}, **(env or {}), PYTHONUNBUFFERED="1")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "beacon_local.cli", "dev", "--port", str(port), "--outbox", str(outbox), *extra],
            cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    stack = DevStack(process, port, outbox, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"beacon dev exited with {process.returncode}:\n{stack.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return stack
        except OSError:
            time.sleep(0.2)
    stack.stop()
    raise RuntimeError(f"beacon dev did not answer on port {port} in {START_TIMEOUT} s:\n{stack.output()}")


@pytest.fixture(scope="module")
def dev_stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DevStack]]:
    """Start stacks for this module; every one is terminated when the module is done."""
    started: list[DevStack] = []

    def factory(*extra: str, env: dict[str, str] | None = None) -> DevStack:
        stack = start_dev(tmp_path_factory.mktemp("beacon-dev"), *extra, env=env)
        started.append(stack)
        return stack

    yield factory
    for stack in started:
        stack.stop()
