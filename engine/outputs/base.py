"""The output interface, its delivery report and the tiny registry (StreamAlert style).

A new destination is one new module in ``engine/outputs`` with a class decorated by
``@register("name", enabled_by=…, min_severity=…)`` and a ``from_env`` classmethod. The
registration is everything the rest of the product knows about an output: routing builds it from
the environment, turns it on when one of its variables is set, and gives it its default minimum
severity; ``dasalert lint`` and ``send-test`` take the list of names from it. No other module
keeps a list of outputs.

``send`` never raises for a delivery problem: it reports, per alert, whether the alert was
delivered, failed in a way a retry may fix, or failed for good, so the caller can retry, report
``batchItemFailures`` or dead-letter it — and nothing is silently lost.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from engine.alerts import Alert
from engine.alerts.model import SEVERITIES

if TYPE_CHECKING:
    from engine.outputs.routing import OutputContext
    from engine.pipeline.state import StateStore


class Status(enum.Enum):
    DELIVERED = "delivered"
    RETRYABLE = "failed_retryable"
    PERMANENT = "failed_permanent"


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    output: str
    status: Status
    reason: str = ""  # never contains a secret (webhook URL, token)


@dataclass
class DeliveryReport:
    output: str
    deliveries: list[Delivery] = field(default_factory=list)

    def add(self, alert_id: str, status: Status, reason: str = "") -> None:
        self.deliveries.append(Delivery(alert_id, self.output, status, reason))

    def with_status(self, status: Status) -> list[Delivery]:
        return [d for d in self.deliveries if d.status is status]

    @property
    def delivered(self) -> list[Delivery]:
        return self.with_status(Status.DELIVERED)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status is not Status.DELIVERED]


class Deadline:
    """Time an output may still spend, from the Lambda context (or unbounded locally).

    Retries sleep only while ``remaining() - margin`` allows, so an output never runs the
    function into its timeout and loses the whole batch.
    """

    def __init__(
        self, remaining_ms: Callable[[], int] | None = None, margin_s: float = 5.0
    ) -> None:
        self._remaining_ms = remaining_ms
        self.margin_s = margin_s

    @classmethod
    def from_context(cls, context: object, margin_s: float = 5.0) -> Deadline:
        fn = getattr(context, "get_remaining_time_in_millis", None)
        return cls(fn, margin_s)

    def remaining(self) -> float:
        """Seconds left before the margin; ``inf`` when there is no Lambda context."""
        if self._remaining_ms is None:
            return float("inf")
        return self._remaining_ms() / 1000.0 - self.margin_s

    def allows(self, seconds: float) -> bool:
        return self.remaining() >= seconds

    def sleep(self, seconds: float, sleeper: Callable[[float], None] = time.sleep) -> bool:
        """Sleep if there is time for it; False (without sleeping) when there is not."""
        if not self.allows(seconds):
            return False
        sleeper(seconds)
        return True


class Output(ABC):
    name: ClassVar[str] = ""
    # True for destinations that keep one record per alert id and update it in place (Security
    # Hub findings): a repeat of the alert with a higher count is worth sending again, whereas
    # Slack or SNS would page a second time.
    updates_in_place: ClassVar[bool] = False

    @classmethod
    def from_env(cls, env: Mapping[str, str], ctx: OutputContext) -> Output:
        """The output configured from ``env``; a ``ConfigError`` naming the variable when the
        configuration is wrong (raised at start-up, not at the first incident). The default
        suits an output that needs no configuration."""
        return cls()

    def bind_state(self, state: StateStore) -> None:
        """Hand the output the state store (the pipeline's ``Deliverer`` does, once).

        For outputs that remember something of their own per alert across batches and cold
        starts (Slack: the message an escalation replies to and updates). The default keeps
        nothing: most outputs are stateless.
        """
        return None

    @abstractmethod
    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        """Deliver what can be delivered; report every alert exactly once.

        An alert with ``alert.escalation`` is an update of one already sent with the same id;
        an output that cannot express an update delivers it as a normal alert.
        """


@dataclass(frozen=True)
class OutputSpec:
    """What an output declares when it registers.

    ``enabled_by``: when ``DASALERT_OUTPUTS`` is not set, the output is on if any of these
    variables is set (non-empty; with ``flag``, set to a true value such as ``true``).
    ``min_severity``: the default of ``<NAME>_MIN_SEVERITY``. ``ops``: whether the default ops
    route (pipeline and rule-error alerts) includes it. ``fallback``: on when nothing at all is
    configured, so a deployment never sends its alerts nowhere.
    """

    name: str
    cls: type[Output]
    enabled_by: tuple[str, ...] = ()
    flag: bool = False
    min_severity: str = "info"
    ops: bool = True
    fallback: bool = False

    @property
    def min_severity_variable(self) -> str:
        return f"{self.name.upper()}_MIN_SEVERITY"

    def enabled(self, env: Mapping[str, str]) -> bool:
        from engine.pipeline.env import env_bool, env_str

        if self.flag:
            return any(env_bool(env, v) for v in self.enabled_by)
        return any(env_str(env, v) for v in self.enabled_by)

    def build(self, env: Mapping[str, str], ctx: OutputContext) -> Output:
        return self.cls.from_env(env, ctx)


_REGISTRY: dict[str, OutputSpec] = {}


def register(
    name: str,
    *,
    enabled_by: Sequence[str] = (),
    flag: bool = False,
    min_severity: str = "info",
    ops: bool = True,
    fallback: bool = False,
) -> Callable[[type[Output]], type[Output]]:
    """Class decorator: declare an output (see :class:`OutputSpec` for the meaning of each
    argument). A second class under a taken name is a programming error, raised at import."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"output {name!r}: unknown min_severity {min_severity!r}")

    def deco(cls: type[Output]) -> type[Output]:
        old = _REGISTRY.get(name)
        if old is not None and old.cls is not cls:
            raise ValueError(f"output {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = OutputSpec(
            name, cls, tuple(enabled_by), flag, min_severity, ops, fallback
        )
        return cls

    return deco


def _import_outputs() -> None:
    """Import every module of this package once, so each output has registered itself."""
    import importlib
    import pkgutil

    import engine.outputs as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "base":
            importlib.import_module(f"engine.outputs.{mod.name}")


def specs() -> dict[str, OutputSpec]:
    """Every registered output by name, in name order (not import order: routing must not
    depend on which module some caller happened to import first)."""
    _import_outputs()
    return {name: _REGISTRY[name] for name in sorted(_REGISTRY)}


def registry() -> dict[str, type[Output]]:
    """Every registered output class by name."""
    return {name: spec.cls for name, spec in specs().items()}


def output_names() -> tuple[str, ...]:
    """The names a rule's ``outputs:`` and ``DASALERT_OUTPUTS`` may use."""
    return tuple(specs())
