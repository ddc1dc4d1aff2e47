"""pytest plugin (entry point ``pytest11``): collects the inline ``tests:`` of rule files."""
