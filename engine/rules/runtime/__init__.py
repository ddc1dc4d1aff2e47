"""What runs per event: the hot path.

The interpreter and dasalert's JMESPath functions, expressions compiled into closures, the
two-level index and its guards, the ``RuleSet`` (which rules match an event), suppression in
event time, and the ``Engine`` (events in, redacted alerts out). It consumes the contract in
``engine.rules.model`` and imports nothing from ``lang``, ``testing`` or ``lint``, so the Lambda's
per-event path cannot grow a dependency on load-time code by accident (a test keeps it so).
"""
