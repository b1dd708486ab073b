"""`beacon dev` runs the local stack; `beacon demo` runs it and walks through a campaign over HTTP;
`beacon replay-ses-events` applies again the SES events a deployed stack could not (its DLQ)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from beacon_local.stack import DEFAULT_OUTBOX, LocalStack

log = logging.getLogger("beacon_local.cli")

_NOISY_LOGGERS = ("botocore", "boto3", "urllib3", "werkzeug", "moto", "pynamodb", "aws_xray_sdk")


def say(text: str = "") -> None:
    """User-facing output of the CLI (logs go to stderr)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _configure_logging(level: int) -> None:
    layout = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr, format=layout)
    # Powertools' Logger(service="beacon") puts a filter on the root handlers that drops every
    # record whose logger name contains "beacon": the local stack logs through its own handler.
    own = logging.StreamHandler(sys.stderr)
    own.setFormatter(logging.Formatter(layout))
    package = logging.getLogger("beacon_local")
    package.handlers[:] = [own]
    package.setLevel(level)
    package.propagate = False
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def _parameters(pairs: Sequence[str]) -> dict[str, str]:
    """`--parameter Name=Value` (repeatable): template parameter overrides, like sam's --parameter-overrides."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--parameter wants Name=Value, got {pair!r}")
        found[name.strip()] = value
    return found


def _stack(args: argparse.Namespace, **environment: str) -> LocalStack:
    return LocalStack(
        parameters=_parameters(args.parameter),
        host=args.host,
        port=args.port,
        outbox=args.outbox,
        template=args.template,
        code_root=args.code_root,
        stage=args.stage,
        environment={"POWERTOOLS_METRICS_DISABLED": "true", **environment},
    )


def dev(args: argparse.Namespace) -> int:
    _configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack = _stack(args, BEACON_CONSOLE_RELOAD="1").start()  # an edited console file shows on reload
    try:
        say(f"Beacon local stack at {stack.base_url}")
        say(f"  Console: {stack.base_url}/")
        routes = stack.http.router.routes if stack.http else []
        say(f"  Routes: {', '.join(r.route_key for r in routes)}")
        say(f"  AWS:    moto at {stack.moto.endpoint_url if stack.moto else '?'}")
        say(f"  Outbox: {stack.outbox}")
        say("Press Ctrl-C to stop.")
        stop.wait()
    finally:
        stack.stop()
        say("stopped")
    return 0


def demo(args: argparse.Namespace) -> int:
    from beacon_local.demo import run_demo

    _configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    if not args.verbose:  # keep the demo's output readable
        warnings.filterwarnings("ignore", message="No application metrics to publish")
    env = {} if args.verbose else {"POWERTOOLS_LOG_LEVEL": "WARNING"}
    with _stack(args, **env) as stack:
        code = run_demo(stack, say)
        if code == 0 and args.keep:
            say("The stack keeps running for the console; press Ctrl-C to stop.")
            _wait_for_a_signal()
        return code


def _wait_for_a_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()


def replay_ses_events(args: argparse.Namespace) -> int:
    """Apply again the SES events waiting in a deployed stack's SesEventsDLQ (operator's AWS credentials)."""
    import boto3

    from beacon_local.replay import lambda_invoker, replay, stack_targets

    _configure_logging(logging.DEBUG if args.verbose else logging.WARNING)
    session = boto3.session.Session(region_name=args.region)
    queue_url, function = args.queue_url, args.function
    if args.stack:
        queue_url, function = stack_targets(session.client("cloudformation"), args.stack)
    if not queue_url or not function:
        say("replay-ses-events: give --stack, or both --queue-url and --function")
        return 2
    result = replay(session.client("sqs"), queue_url, lambda_invoker(session.client("lambda"), function),
                    limit=args.limit, dry_run=args.dry_run)
    verb = "would apply" if args.dry_run else "applied"
    say(f"{verb} {result.applied}, failed {result.failed}, unreadable {result.unreadable} (from {queue_url})")
    for error in result.errors:
        say(f"  {error}")
    return 0 if not (result.failed or result.unreadable) else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="beacon", description="Beacon's local stack.")
    commands = root.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser, port: int) -> None:
        sub.add_argument("--port", type=int, default=port, help=f"HTTP port (default {port}; 0 picks a free one)")
        sub.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        sub.add_argument("--outbox", type=Path, default=DEFAULT_OUTBOX, help="where .eml files go")
        sub.add_argument("--template", type=Path, default=None, help="template.yaml (default: found from cwd)")
        sub.add_argument("--code-root", type=Path, default=None, help="base of CodeUri (default: template dir)")
        sub.add_argument("--stage", default="local", help="Stage parameter (default local)")
        sub.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                         help="override a template parameter, e.g. TenantSendRatePerSecond=2 (repeatable)")
        sub.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    common(commands.add_parser("dev", help="run the local stack until Ctrl-C"), 3000)
    demo_command = commands.add_parser("demo", help="start the stack and send a demo campaign")
    common(demo_command, 0)
    demo_command.add_argument("--keep", action="store_true",
                              help="keep the stack running afterwards (for the web console) until Ctrl-C")
    replay = commands.add_parser(
        "replay-ses-events", help="apply again the SES events in a deployed stack's SesEventsDLQ",
        description="Reads the SES-events DLQ of a deployed stack, invokes its ses_events function with each "
                    "event, and deletes the ones that applied; the others stay for the next try.")
    replay.add_argument("--stack", help="stack name: the DLQ and function come from its outputs")
    replay.add_argument("--queue-url", help="the DLQ's URL (instead of --stack)")
    replay.add_argument("--function", help="the ses_events function's name or ARN (instead of --stack)")
    replay.add_argument("--region", default=None, help="AWS region (default: your AWS configuration's)")
    replay.add_argument("--limit", type=int, default=None, help="replay at most this many messages")
    replay.add_argument("--dry-run", action="store_true", help="only read and classify the messages")
    replay.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "dev":
        return dev(args)
    if args.command == "replay-ses-events":
        return replay_ses_events(args)
    return demo(args)


if __name__ == "__main__":
    sys.exit(main())
