"""The send ledger's DynamoDB Stream (moto) into the stats roll-up, as Lambda's event source mapping
of StatsRollupFunction delivers it: the template's filter, batches with the tumbling window's
`shardId`, the function's own handler. Tests call `roll_up()` before they read stats, where AWS
would have let the stream run for a second or two.

Records are read from where the previous call stopped (a test's campaign ids are its own, so the
records of earlier tests change nothing it reads)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from beacon_local.resources import ACCOUNT_ID, Resources
from beacon_local.streams import StreamReader, failed_sequence, lambda_record, parse_pattern, passes, stream_event
from beacon_local.template import StreamEventSource

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "StatsRollupFunction"


def load_handler(name: str = "stats_rollup") -> Callable[[dict[str, Any], Any], Any]:
    spec = importlib.util.spec_from_file_location(f"fn_{name}_stream", ROOT / f"functions/{name}/handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler  # type: ignore[no-any-return]


class LedgerStream:
    """Reads the messages table's stream from a position it remembers, shard by shard."""

    def __init__(self, resources: Resources) -> None:
        source = next(s for s in resources.template.stream_event_sources if s.function == FUNCTION)
        self.source: StreamEventSource = source
        self.arn = resources.stream_arn(source.table)
        self.reader = StreamReader(resources.client("dynamodbstreams"), self.arn)
        self.filters = [parse_pattern(p) for p in source.filters]
        self.positions: dict[str, tuple[str, str] | None] = {}
        self.region = resources.region
        self.table_name = resources.tables[source.table] if resources.endpoint_url is None else None

    def skip_to_end(self) -> None:
        for shard in self.reader.shards():
            self.positions[shard] = self.reader.end(shard) or self.positions.get(shard)

    def _read(self, shard: str) -> list[dict[str, Any]]:
        """The shard's records after our position. In-process (mock_aws) straight from moto's table:
        moto's serialiser takes seconds for a GetRecords answer of 1,000 records."""
        if self.table_name is None:
            return self.reader.read(shard, self.positions.get(shard), 1000)
        from moto.dynamodb.models import dynamodb_backends

        found = dynamodb_backends[ACCOUNT_ID][self.region].get_table(self.table_name).stream_shard
        assert found is not None and found.id == shard
        position = self.positions.get(shard)
        # records trimmed before they were read (moto_patches.bounded_streams) were earlier tests'
        start = 0 if position is None else max(0, int(position[1]) + 1 - found.starting_sequence_number)
        return [json.loads(json.dumps(r.to_json(), default=str)) for r in found.items[start:start + 1000]]

    def new_records(self) -> dict[str, list[dict[str, Any]]]:
        """Every record written since the last call, per shard, in Lambda's record shape (unfiltered)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for shard in self.reader.shards():
            records: list[dict[str, Any]] = []
            while True:
                raw = self._read(shard)
                if not raw:
                    break
                records.extend(lambda_record(r, self.arn, self.region) for r in raw)
                self.positions[shard] = ("AFTER_SEQUENCE_NUMBER", str(raw[-1]["dynamodb"]["SequenceNumber"]))
            out[shard] = records
        return out

    def passed(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records the template's FilterCriteria lets through to the function."""
        return [r for r in records if passes(self.filters, r)]

    def event(self, records: list[dict[str, Any]], shard_id: str) -> dict[str, Any]:
        return stream_event(records, shard_id=shard_id, stream_arn=self.arn,
                            window_seconds=self.source.tumbling_window_seconds, now=0.0)


_streams: dict[str, LedgerStream] = {}
_handler: list[Callable[[dict[str, Any], Any], Any]] = []
_current: list[Resources] = []


def use(resources: Resources) -> None:
    """The resources roll_up() reads by default (the session's moto, set by conftest's `aws`)."""
    _current[:] = [resources]
    ledger_stream(resources)  # reads from here on


def ledger_stream(resources: Resources) -> LedgerStream:
    key = f"{resources.stage}:{resources.tables['MessagesTable']}"
    if key not in _streams:
        _streams[key] = LedgerStream(resources)
        _streams[key].skip_to_end()
    return _streams[key]


def roll_up(resources: Resources | None = None) -> int:
    """Deliver every new ledger record to StatsRollupFunction (batches of BatchSize, filtered,
    partial failures delivered again). Returns how many records the function received."""
    if not _handler:
        _handler.append(load_handler())
    stream = ledger_stream(resources or _current[0])
    delivered = 0
    for shard, records in stream.new_records().items():
        pending = stream.passed(records)
        while pending:
            batch = pending[: stream.source.batch_size]
            answer = _handler[0](stream.event(batch, shard), None)
            delivered += len(batch)
            failed = failed_sequence(answer, [r["dynamodb"]["SequenceNumber"] for r in batch])
            if failed is None:
                pending = pending[len(batch):]
            else:
                pending = [r for r in pending if int(r["dynamodb"]["SequenceNumber"]) >= int(failed)]
    return delivered
