"""The web dashboard at /dashboard/: server-rendered pages over the same gRPC service as the
REST routes, signed in with an API key (docs/dashboard.md)."""

from rest_bridge.dashboard.app import build_dashboard

__all__ = ["build_dashboard"]
