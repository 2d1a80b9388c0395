"""The REST bridge: Mindo's documented HTTP API, served over the gRPC service.

It owns no business logic: it validates the documented request shapes (as Django REST
Framework would), calls the service over gRPC, and turns replies and errors into the
documented JSON bodies.
"""

from rest_bridge.app import RunningBridge, build_app, run_bridge, start_bridge
from rest_bridge.webhook_secrets import WebhookSecrets

__all__ = ["RunningBridge", "WebhookSecrets", "build_app", "run_bridge", "start_bridge"]
