"""LLM clients: one small protocol and adapters that map an effort level to each provider's knob.

The mapping from effort levels to knobs lives in the policy's ``llm`` section.
"""

from orchestrator.llm._anthropic import ANTHROPIC_VERSION, AnthropicClient
from orchestrator.llm._chat import GptOssClient, OpenAICompatibleClient, QwenClient
from orchestrator.llm._policy import (
    AnthropicEffort,
    GptOssEffort,
    LLMPolicy,
    OpenAIEffort,
    QwenEffort,
)
from orchestrator.llm._protocol import Completion, LLMClient, Message, ReasoningClient, Usage

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicClient",
    "AnthropicEffort",
    "Completion",
    "GptOssClient",
    "GptOssEffort",
    "LLMClient",
    "LLMPolicy",
    "Message",
    "OpenAICompatibleClient",
    "OpenAIEffort",
    "QwenClient",
    "QwenEffort",
    "ReasoningClient",
    "Usage",
]
