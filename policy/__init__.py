"""The Deep Insight policy pack (PulumiPolicy.yaml): run with ``pulumi preview --policy-pack policy``.

A package so that the tests import its rules as ``policy.rules``; the Pulumi CLI runs ``__main__.py``
with this directory as the working directory and first entry of ``sys.path``.
"""
