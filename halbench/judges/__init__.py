"""LLM judges over OpenAI-compatible endpoints (see client.py)."""

from halbench.judges.client import (
    DEFAULT_PRICES,
    JudgeClient,
    JudgeConfig,
    JudgeRequest,
    JudgeResult,
)

__all__ = ["DEFAULT_PRICES", "JudgeClient", "JudgeConfig", "JudgeRequest", "JudgeResult"]
