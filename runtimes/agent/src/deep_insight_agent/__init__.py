"""Deep Insight agent runtime (placeholder until issue 5: serves only the AgentCore ping)."""
