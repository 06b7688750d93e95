"""Deep Insight code executor (placeholder until issue 4: serves only the health check)."""
