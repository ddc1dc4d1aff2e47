"""Rule authors' tests: the inline-test runner (``runner``) and the pytest plugin.

Both run a rule's ``tests:`` through the production ``Engine``: there is no second evaluator.
"""
