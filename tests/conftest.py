"""Root test configuration.

moto is imported before anything creates a botocore session (such as `beacon.shared.aws.SESSION`):
moto hooks every session created after its import, so `mock_aws()` in the integration tests
intercepts Beacon's own clients too, whatever test module imported `beacon.shared.aws` first.
"""

import moto  # noqa: F401
