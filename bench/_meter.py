"""What a block of Beacon code asks of AWS, measured against moto in this process (`mock_aws`):

- calls per service and operation (every botocore request moto answers, whichever session made it:
  Beacon's own clients and PynamoDB's);
- DynamoDB read and write request units, by DynamoDB's rules, from the sizes of the items each call
  touches (read from moto's tables before and after the call): a read costs the item sizes rounded
  up to 4 KB (a Query: the page's total), halved when eventually consistent; a write costs the larger
  of the item's old and new size rounded up to 1 KB (a failed condition: the old item, at least 1);
  a transaction item costs double; an index entry that a write creates, changes or removes costs a
  write of its own (its keys + 100 bytes for KEYS_ONLY);
- Beacon's own CPU time: the process's CPU time less the CPU time moto spent answering (measured
  per thread around moto's request handling, so a thread pool's overlapping calls are right);
- bytes written to stdout/stderr (what Lambda would ship to CloudWatch Logs), when asked to capture.

Sizes follow https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
(strings: UTF-8 bytes; numbers: 1 byte per 2 significant digits + 1; lists and maps: 3 bytes + 1 per
element; each attribute: its name's length plus its value).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTIONS = Path(__file__).resolve().parents[1] / "functions"


def load_handler(name: str) -> Any:
    """functions/<name>/handler.py's `handler`, loaded from its file as Lambda does (a fresh module each
    call): the benchmarks hand it synthetic events."""
    spec = importlib.util.spec_from_file_location(f"bench_fn_{name}", FUNCTIONS / name / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


# ----------------------------------------------------------------------------- item sizes
def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(_number_size(str(x)) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items())
    raise ValueError(kind)


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


# ----------------------------------------------------------------------------- the meter
@dataclass
class Usage:
    calls: Counter[str] = field(default_factory=Counter)  # "dynamodb.UpdateItem", "sqs.SendMessageBatch", ...
    rru: float = 0.0
    wru: float = 0.0
    rru_by: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # units by table.operation
    wru_by: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cpu: float = 0.0  # Beacon's own CPU seconds
    log_bytes: int = 0
    metrics: set[str] = field(default_factory=set)  # CloudWatch metrics the logs carry (EMF)

    def count(self, service: str) -> int:
        return sum(n for k, n in self.calls.items() if k.split(".")[0] == service)


class Meter:
    """`with Meter() as usage:` ... (mock_aws must be active)."""

    def __init__(self, capture_logs: bool = False) -> None:
        self.usage = Usage()
        self.capture_logs = capture_logs
        self._moto_cpu = 0.0
        self._lock = threading.Lock()
        self._sink: io.StringIO | None = None

    # ------------------------------------------------------------ moto's tables
    @staticmethod
    def _table(name: str) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT][REGION].get_table(name)

    def _item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.dynamodb.models import dynamodb_backends

        try:
            found = dynamodb_backends[ACCOUNT][REGION].get_item(table, key)
        except Exception:
            return None
        return found.to_json()["Attributes"] if found is not None else None

    def _key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        t = self._table(table)
        key = {t.hash_key_attr: item[t.hash_key_attr]}
        if t.range_key_attr:
            key[t.range_key_attr] = item[t.range_key_attr]
        return key

    def _index_writes(self, table: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
        """Write units of the global secondary index entries a write creates, changes or removes."""
        units: float = 0
        t = self._table(table)
        for index in getattr(t, "global_indexes", []) or []:
            names = [k["AttributeName"] for k in index.schema]
            before = all(n in (old or {}) for n in names)
            after = all(n in (new or {}) for n in names)
            changed = before and after and any((old or {})[n] != (new or {})[n] for n in names)
            keys = [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else []) + names
            entry = item_size({n: v for n, v in (new or old or {}).items() if n in keys}) + 100
            if (before != after) or changed:
                units += write_units(entry) * (2 if changed else 1)
        return units

    # ------------------------------------------------------------ one request
    def _dynamodb(self, operation: str, body: dict[str, Any], run: Any) -> Any:
        u = self.usage
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = body["TableName"]
            key = body.get("Key") or self._key_of(table, body["Item"])
            old = self._item(table, key)
            answer = run()
            new = self._item(table, key)
            units = write_units(max(item_size(old), item_size(new))) + self._index_writes(table, old, new)
            u.wru += units
            u.wru_by[f"{table}.{operation}"] += units
            return answer
        if operation == "TransactWriteItems":
            parts = []
            for entry in body["TransactItems"]:
                (kind, op), = entry.items()
                if kind == "ConditionCheck":
                    parts.append((op["TableName"], op["Key"], kind))
                    continue
                key = op.get("Key") or self._key_of(op["TableName"], op["Item"])
                parts.append((op["TableName"], key, kind))
            before = [self._item(t, k) for t, k, _ in parts]
            answer = run()
            for (table, key, kind), old in zip(parts, before, strict=True):
                new = self._item(table, key)
                if kind == "ConditionCheck":
                    units = 2 * read_units(item_size(old), True)
                    u.rru += units
                    u.rru_by[f"{table}.TransactConditionCheck"] += units
                    continue
                units = 2 * write_units(max(item_size(old), item_size(new))) + self._index_writes(table, old, new)
                u.wru += units
                u.wru_by[f"{table}.Transact{kind}"] += units
            return answer
        if operation == "BatchWriteItem":
            parts = [(table, r.get("PutRequest", {}).get("Item"), r.get("DeleteRequest", {}).get("Key"))
                     for table, requests in body["RequestItems"].items() for r in requests]
            keys = [(t, k or self._key_of(t, i)) for t, i, k in parts]
            before = [self._item(t, k) for t, k in keys]
            answer = run()
            for (table, key), old in zip(keys, before, strict=True):
                new = self._item(table, key)
                units = write_units(max(item_size(old), item_size(new))) + self._index_writes(table, old, new)
                u.wru += units
                u.wru_by[f"{table}.BatchWriteItem"] += units
            return answer
        answer = run()
        reply = json.loads(answer[2] or b"{}") if answer and answer[0] == 200 else {}
        consistent = bool(body.get("ConsistentRead"))
        if operation == "GetItem":
            units = read_units(item_size(self._item(body["TableName"], body["Key"])), consistent)
            u.rru += units
            u.rru_by[f"{body['TableName']}.GetItem"] += units
        elif operation == "BatchGetItem":
            for table, request in body["RequestItems"].items():
                for key in request["Keys"]:
                    units = read_units(item_size(self._item(table, key)), bool(request.get("ConsistentRead")))
                    u.rru += units
                    u.rru_by[f"{table}.BatchGetItem"] += units
        elif operation in ("Query", "Scan"):
            table = body["TableName"]
            if body.get("IndexName"):
                size = sum(item_size(i) for i in reply.get("Items", []))
            else:
                size = sum(item_size(self._item(table, self._key_of(table, i)) or i) for i in reply.get("Items", []))
            if reply.get("ScannedCount", 0) > reply.get("Count", 0):
                raise RuntimeError(f"a filtered {operation} on {table}: the meter cannot see what it read")
            units = read_units(size, consistent)
            u.rru += units
            u.rru_by[f"{table}.{operation}"] += units
        return answer

    def _process(self, original: Any, stubber: Any, request: Any) -> Any:
        started = time.thread_time()
        try:
            target = (request.headers.get("X-Amz-Target") or b"")
            target = target.decode() if isinstance(target, bytes) else str(target)
            body_raw = request.body or b""
            if target.startswith("DynamoDB_"):
                operation = target.split(".", 1)[1]
                with self._lock:
                    self.usage.calls[f"dynamodb.{operation}"] += 1
                body = json.loads(body_raw) if body_raw else {}
                return self._dynamodb(operation, body, lambda: original(stubber, request))
            with self._lock:
                self.usage.calls[_name_of(request, target, body_raw)] += 1
            return original(stubber, request)
        finally:
            with self._lock:
                self._moto_cpu += time.thread_time() - started

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.process_request

        def process_request(stubber: Any, request: Any) -> Any:
            return self._process(original, stubber, request)

        BotocoreStubber.process_request = process_request  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            BotocoreStubber.process_request = original  # type: ignore[method-assign]

    def __enter__(self) -> Usage:
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(self._patched())
        if self.capture_logs:
            self._sink = io.StringIO()
            self._stack.enter_context(_captured(self._sink))
        self._cpu0 = time.process_time()
        return self.usage

    def __exit__(self, *exc: object) -> None:
        total = time.process_time() - self._cpu0
        self._stack.close()
        self.usage.cpu += max(0.0, total - self._moto_cpu)
        if self._sink is not None:
            text = self._sink.getvalue()
            self.usage.log_bytes += len(text.encode())
            self.usage.metrics |= emf_metrics(text)


def emf_metrics(text: str) -> set[str]:
    """The metrics (name and dimension set) of the CloudWatch embedded-metric-format lines in `text`."""
    found: set[str] = set()
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            dims = ",".join(sorted(d for group in directive.get("Dimensions", []) for d in group))
            for metric in directive.get("Metrics", []):
                found.add(f"{directive.get('Namespace')}/{metric.get('Name')}[{dims}]")
    return found


def _name_of(request: Any, target: str, body: bytes | str) -> str:
    host = request.url.split("/")[2]
    service = host.split(".")[0]
    if target:  # JSON protocols: AmazonSQS.SendMessageBatch, ...
        prefix, _, operation = target.partition(".")
        return f"{'sqs' if 'SQS' in prefix else prefix.lower()}.{operation}"
    if "/v2/email/outbound-emails" in request.url:
        return "ses.SendEmail"
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    for part in text.split("&"):
        if part.startswith("Action="):
            return f"{service}.{part[7:]}"
    return f"{service}.{request.method} {request.url.split('?')[0].split(host, 1)[1]}"


@contextlib.contextmanager
def _captured(sink: io.StringIO) -> Iterator[None]:
    """Everything written to stdout/stderr (and to logging handlers bound to them) goes to `sink`."""
    import logging

    handlers = [h for h in logging.root.manager.loggerDict.values() if isinstance(h, logging.Logger)]
    streams = []
    for logger in [logging.getLogger(), *handlers]:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr):
                streams.append((handler, handler.stream))
                handler.setStream(sink)
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = sink
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for handler, stream in streams:
            handler.setStream(stream)
