"""Rules: YAML schema, loading and validation, JMESPath functions, the compiled RuleSet, tests."""
