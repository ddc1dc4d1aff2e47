"""Outputs: one module per destination behind ``Output.send(alerts) -> DeliveryReport``."""
