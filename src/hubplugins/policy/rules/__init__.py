"""The policy's rules, one module each; every rule returns a Decision.

Each module's table test is ``tests/policy/rules/test_<module>.py``, and each
refusal it can give is a row of :mod:`hubplugins.policy.catalogue`.
"""
