"""The gRPC server: the Mindo service, standard health checking and server reflection.

Shutdown is graceful: health turns NOT_SERVING first (load balancers stop sending), then the
server stops accepting calls and lets running ones finish within the grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mindo_core.bootstrap import Services
from mindo_grpc._pb.mindo.v1 import mindo_pb2, mindo_pb2_grpc
from mindo_grpc.servicer import MindoServicer

log = logging.getLogger(__name__)

# A 100,000-recipient SendBulk is about 13 MiB; gRPC's default cap is 4 MiB.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MESSAGE_SIZE_OPTIONS = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)

SERVICE_NAME = mindo_pb2.DESCRIPTOR.services_by_name["Mindo"].full_name


@dataclass
class RunningGrpcServer:
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    host: str

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace_seconds: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)


async def start_grpc_server(
    services: Services,
    address: str,
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> RunningGrpcServer:
    """Listens on ``address`` (HOST:PORT; port 0 picks a free one) and starts serving."""
    server = grpc.aio.server(options=MESSAGE_SIZE_OPTIONS, interceptors=interceptors)
    mindo_pb2_grpc.add_MindoServicer_to_server(MindoServicer(services), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(address)
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = address.rpartition(":")[0].strip("[]")
    log.info("gRPC service listening on %s:%d", host, port)
    return RunningGrpcServer(server=server, health=health_servicer, port=port, host=host)
