"""What the bulk engine's pieces share: its ports, its settings, its outcome buffer, its marks of
calls started, its send capacity, its retry policy, the numbers' throughputs and the numbers it
holds. Each piece reads the narrow port it uses."""

from __future__ import annotations

from dataclasses import dataclass

from mindo_core.domain.accounts import PhoneNumberRowId
from mindo_core.domain.clock import Clock
from mindo_core.engine.capacity import SendCapacity
from mindo_core.engine.outcome_buffer import OutcomeBuffer
from mindo_core.engine.settings import EngineSettings
from mindo_core.engine.start_marks import StartMarks
from mindo_core.engine.tenure import Tenure
from mindo_core.ports.accounts import AccountStore
from mindo_core.ports.bulks import BulkStore
from mindo_core.ports.contacts import ContactStore, OptOutPolicies
from mindo_core.ports.meta import MetaGateway
from mindo_core.ports.ownership import NumberOwnership
from mindo_core.ports.progress import ProgressBus
from mindo_core.ports.secrets import TokenCipher
from mindo_core.ports.telemetry import EngineTelemetry
from mindo_core.ports.templates import TemplateStore
from mindo_core.throughput.number_throughputs import NumberThroughputs
from mindo_core.throughput.retry_policy import RetryPolicy

__all__ = ["EngineParts"]


@dataclass(frozen=True, kw_only=True, eq=False)
class EngineParts:
    accounts: AccountStore
    templates: TemplateStore
    bulks: BulkStore
    contacts: ContactStore
    opt_out_policies: OptOutPolicies
    meta: MetaGateway
    cipher: TokenCipher
    clock: Clock
    progress: ProgressBus
    outcomes: OutcomeBuffer
    # A call starts only once its mark is durable.
    marks: StartMarks
    capacity: SendCapacity
    retry_policy: RetryPolicy
    settings: EngineSettings
    # The numbers' throughputs, shared with the process's single sends.
    throughputs: NumberThroughputs[PhoneNumberRowId]
    ownership: NumberOwnership
    # What ``ownership`` gave this engine, and until when: no send starts outside it.
    tenure: Tenure
    # Where sends' pacing is reported (the operator's metrics); None: nowhere.
    telemetry: EngineTelemetry | None = None
