"""Facts shared by the Pulumi program, the agent runtime, the executor and the ops CLI, each defined once.

Dependency-free: both container images install it next to their own package.
"""
