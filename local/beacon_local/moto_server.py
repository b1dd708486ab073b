"""moto as the embedded AWS: a ThreadedMotoServer in this process, on 127.0.0.1 and a free port."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request

from moto.server import ThreadedMotoServer

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Starts moto's server in a thread; `endpoint_url` is what every AWS client talks to."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        self._started = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, set_environment: bool = True) -> str:
        # moto checks each SQS purge against a 60 s window; the local stack purges freely
        os.environ.setdefault("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
        self._server.start()
        self._started = True
        if set_environment:
            os.environ["AWS_ENDPOINT_URL"] = self.endpoint_url
        self._wait_ready()
        log.info("moto server on %s", self.endpoint_url)
        return self.endpoint_url

    def _wait_ready(self) -> None:
        url = f"{self.endpoint_url}/moto-api/data.json"
        for _ in range(50):
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                    return
            except OSError:
                continue
        raise RuntimeError(f"moto server at {self.endpoint_url} did not answer")

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._server.stop()
            if os.environ.get("AWS_ENDPOINT_URL") == self.endpoint_url:
                del os.environ["AWS_ENDPOINT_URL"]

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
