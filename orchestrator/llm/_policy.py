"""The llm section of a policy: how each provider's own knob expresses an effort level."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AnthropicEffort",
    "GptOssEffort",
    "LLMPolicy",
    "OpenAIEffort",
    "QwenEffort",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpenAIEffort(_Section):
    """Chat completions: the ``reasoning_effort`` value sent for each level."""

    reasoning_effort: dict[str, str] = {"low": "low", "medium": "medium", "high": "high"}


class AnthropicEffort(_Section):
    """Messages API: ``adaptive`` sends ``thinking: {type: adaptive}`` with ``output_config.effort``
    (Claude 4.6 and later); ``budget`` sends ``thinking: {type: enabled, budget_tokens: N}``
    (earlier models), a budget of 0 meaning thinking disabled."""

    mode: Literal["adaptive", "budget"] = "adaptive"
    effort: dict[str, str] = {"low": "low", "medium": "medium", "high": "high"}
    budget_tokens: dict[str, int] = {"low": 0, "medium": 4096, "high": 16384}
    max_tokens: int = Field(default=32000, gt=0, description="Required by the API; > any budget.")

    @model_validator(mode="after")
    def _budgets_fit(self) -> AnthropicEffort:
        if self.mode != "budget":
            return self  # adaptive mode sends no budget: a smaller max_tokens is fine
        for level, budget in self.budget_tokens.items():
            if budget != 0 and not 1024 <= budget < self.max_tokens:
                raise ValueError(
                    f"budget_tokens.{level} = {budget}: expected 0 (off) or 1024 <= budget "
                    f"< max_tokens ({self.max_tokens})"
                )
        return self


class GptOssEffort(_Section):
    """gpt-oss (harmony format): the ``Reasoning: <value>`` line added to the system message."""

    reasoning: dict[str, str] = {"low": "low", "medium": "medium", "high": "high"}


class QwenEffort(_Section):
    """Qwen3-style hybrid thinking. ``chat_template_kwargs`` is how vLLM and SGLang pass
    ``enable_thinking`` to the chat template; ``top_level`` is DashScope's form, which also takes
    a ``thinking_budget``."""

    placement: Literal["chat_template_kwargs", "top_level"] = "chat_template_kwargs"
    enable_thinking: dict[str, bool] = {"low": False, "medium": True, "high": True}
    thinking_budget: dict[str, int] = {"medium": 2048, "high": 8192}

    @model_validator(mode="after")
    def _budgets_positive(self) -> QwenEffort:
        for level, budget in self.thinking_budget.items():
            if budget <= 0:
                raise ValueError(f"thinking_budget.{level} = {budget}: expected a count > 0")
        return self


class LLMPolicy(_Section):
    """Per-provider effort mappings and the request timeout."""

    timeout_s: float = Field(default=60.0, gt=0.0)
    openai: OpenAIEffort = OpenAIEffort()
    anthropic: AnthropicEffort = AnthropicEffort()
    gpt_oss: GptOssEffort = GptOssEffort()
    qwen: QwenEffort = QwenEffort()
