"""sentinel-lab: deterministic security for LLM agent tool calls."""

__version__ = "0.1.0"
