"""Deep Insight code executor: runs the agents' Python and shell for one job session (SPEC §6)."""
