"""The Deep Insight policy pack: every rule of `rules.POLICIES`, all mandatory."""

from pulumi_policy import EnforcementLevel, PolicyPack

if __package__:  # run as the module policy.__main__ (the tests)
    from .rules import POLICIES
else:  # run by the Pulumi CLI (runpy on this directory, which is then sys.path[0])
    from rules import POLICIES  # pyright: ignore[reportMissingImports]

# Serves the policies to the Pulumi engine over gRPC until the engine stops it: this call does not return.
PolicyPack(name="deep-insight", enforcement_level=EnforcementLevel.MANDATORY, policies=list(POLICIES))
