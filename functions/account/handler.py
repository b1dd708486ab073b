"""ANY /v1/{proxy+}: the authenticated API. Routing and logic live in beacon.web.app."""

import threading
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from beacon.shared.observability import logger
from beacon.web.app import app

# Lambda runs one invocation at a time per execution environment; the local stack runs several
# in threads of one process. The resolver is not thread-safe (powertools keeps the current event
# on the router class and the matched route in the app's context): one request at a time through
# it. On Lambda the lock is never contended.
_resolving = threading.Lock()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with _resolving:
        return app.resolve(event, context)
