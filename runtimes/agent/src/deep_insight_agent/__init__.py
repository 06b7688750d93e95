"""Deep Insight agent runtime for Amazon Bedrock AgentCore (SPEC §7)."""
