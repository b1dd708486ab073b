"""Beacon: serverless email marketing. The domain package shipped as the Lambda layer."""

__version__ = "0.1.0"
