"""GET / and GET /console/{proxy+}: the web console's files (beacon.web.console_files)."""

from pathlib import Path
from typing import Any

from beacon.web.console_files import from_environment

FILES = from_environment(Path(__file__).resolve().parent)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return FILES.answer(event)
