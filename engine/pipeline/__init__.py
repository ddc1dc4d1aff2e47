"""The Lambda core: one batch from records to delivered alerts, and what it needs around it.

``batch`` (the ``Pipeline``), ``delivery`` (idempotent sends), ``dlq`` (dead letters),
``firehose`` (the transformation response), ``watchdog`` (silent streams), ``metrics`` (EMF),
``state`` / ``state_dynamodb`` (suppression memory), ``config`` and ``env`` (the environment).

Deliberately empty of imports: ``engine.rules.runtime`` reads the ``StateStore`` contract from
``engine.pipeline.state``, and an eager import of ``batch`` here would close a cycle.
"""
