"""The output interface, its delivery report and the tiny registry (StreamAlert style).

A new destination is one new module in ``engine/outputs`` with a class decorated by
``@register("name")``. ``send`` never raises for a delivery problem: it reports, per alert,
whether the alert was delivered, failed in a way a retry may fix, or failed for good, so the
caller can retry, report ``batchItemFailures`` or dead-letter it — and nothing is silently lost.
"""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from engine.alerts import Alert


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

    @abstractmethod
    def send(self, alerts: Sequence[Alert], deadline: Deadline | None = None) -> DeliveryReport:
        """Deliver what can be delivered; report every alert exactly once."""


_REGISTRY: dict[str, type[Output]] = {}


def register(name: str) -> Callable[[type[Output]], type[Output]]:
    def deco(cls: type[Output]) -> type[Output]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"output {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def registry() -> dict[str, type[Output]]:
    """Every registered output, importing the modules of this package once."""
    import importlib
    import pkgutil

    import engine.outputs as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in {"base"}:
            importlib.import_module(f"engine.outputs.{mod.name}")
    return dict(_REGISTRY)
