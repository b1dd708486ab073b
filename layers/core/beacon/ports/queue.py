"""The queue port: JSON messages onto SQS, in batches of up to ten."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol


class Queue(Protocol):
    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None:
        """Enqueue every body or raise; never enqueue a part silently. `delay_seconds`: one delay
        for all, or one per body."""
        ...


def _delays(bodies: list[dict[str, Any]], delay_seconds: int | list[int]) -> list[int]:
    delays = [delay_seconds] * len(bodies) if isinstance(delay_seconds, int) else list(delay_seconds)
    if len(delays) != len(bodies) or any(not 0 <= d <= 900 for d in delays):
        raise ValueError("a delay of 0-900 s for each message")
    return delays


class SqsQueue:
    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None:
        delays = _delays(bodies, delay_seconds)
        for start in range(0, len(bodies), 10):
            chunk = bodies[start : start + 10]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":")),
                 "DelaySeconds": delays[start + i]}
                for i, body in enumerate(chunk)
            ]
            for _attempt in range(5):
                answer = self._client.send_message_batch(QueueUrl=queue_url, Entries=entries)
                failed = {f["Id"] for f in answer.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            else:
                raise RuntimeError(f"SQS refused {len(entries)} messages after retries")


@dataclass
class FakeQueue:
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    delays: list[int | list[int]] = field(default_factory=list)  # the DelaySeconds of every send, in order

    def send(self, queue_url: str, bodies: list[dict[str, Any]], delay_seconds: int | list[int] = 0) -> None:
        _delays(bodies, delay_seconds)
        # round-trip through JSON like SQS does, so tests see what a consumer would
        self.messages.setdefault(queue_url, []).extend(json.loads(json.dumps(b)) for b in bodies)
        self.delays.append(delay_seconds)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        return self.messages.pop(queue_url, [])
