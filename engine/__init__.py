"""dasalert's library: everything except the Lambda entry points.

The flow runs one way: ``das`` (records -> events) -> ``events`` (normalize) -> ``rules``
(evaluate) -> ``alerts`` (redacted alerts) -> ``suppress`` (via ``state``) -> ``outputs``.
"""

__version__ = "0.1.0"
