"""The classifier's prompt: RouteLLM's system and question templates and the chat format around them.

The templates in ``templates/`` are RouteLLM's ``system_ft_v5.txt`` and ``classifier_ft_v5.txt``
(RouteLLM, Apache-2.0), verbatim: the published checkpoint was fine-tuned on exactly this text.
"""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from routellm.errors import ConfigError

logger = logging.getLogger(__name__)

SYSTEM_TEMPLATE = "system_ft_v5.txt"
CLASSIFIER_TEMPLATE = "classifier_ft_v5.txt"
#: ``llama3``: RouteLLM's Llama 3 format; ``chat_template``: the tokenizer's own chat template.
PROMPT_FORMATS = ("llama3", "chat_template")

# RouteLLM's Llama 3 turn format. The tokenizer adds <|begin_of_text|>; RouteLLM's prompt ends after
# the user turn and the model writes the assistant header, then its score token.
_LLAMA3_TURN = "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
_LLAMA3_GENERATION = "<|start_header_id|>assistant<|end_header_id|>\n\n"


def shipped_template(name: str) -> str:
    """A template shipped with this plugin."""
    return files("routellm_router_causal_llm").joinpath("templates", name).read_text(encoding="utf-8")


def load_template(value: str | None, name: str, checkpoint: Path | None, *, owner: str) -> str:
    """The text of template ``name``.

    ``value`` is a file path; ``None`` means the checkpoint's own copy (RouteLLM publishes its
    templates beside the weights) or else the shipped one. A path that does not exist but ends in
    a shipped template's file name (as in RouteLLM's config, ``routellm/routers/causal_llm/...``)
    resolves to the shipped copy.
    """
    if value is None:
        if checkpoint is not None and (checkpoint / name).is_file():
            return (checkpoint / name).read_text(encoding="utf-8")
        return shipped_template(name)
    path = Path(value).expanduser()
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if path.name in (SYSTEM_TEMPLATE, CLASSIFIER_TEMPLATE):
        logger.debug("%s: %s not found, using the shipped %s", owner, path, path.name)
        return shipped_template(path.name)
    raise ConfigError(f"{owner}: template file not found: {path}")


class PromptBuilder:
    """Turns a user prompt into the text the classifier scores (ending where the score token comes)."""

    def __init__(self, system: str, classifier: str, prompt_format: str, tokenizer: Any, *, owner: str) -> None:
        if "{question}" not in classifier:
            raise ConfigError(f"{owner}: the classifier template must contain '{{question}}' where the prompt goes")
        if prompt_format not in PROMPT_FORMATS:
            raise ConfigError(f"{owner}: prompt_format must be one of {', '.join(PROMPT_FORMATS)}, got '{prompt_format}'")
        if prompt_format == "chat_template" and not getattr(tokenizer, "chat_template", None):
            raise ConfigError(f"{owner}: prompt_format 'chat_template' needs a tokenizer with a chat template")
        self.system = system
        self.classifier = classifier
        self.prompt_format = prompt_format
        self.tokenizer = tokenizer

    @property
    def adds_special_tokens(self) -> bool:
        """Whether tokenising the text should add BOS (a chat template writes its own)."""
        return self.prompt_format == "llama3"

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """RouteLLM's conversation: the system template, then the question template around the prompt."""
        return [
            {"role": "system", "content": self.system.strip()},
            {"role": "user", "content": self.classifier.format(question=prompt).strip()},
        ]

    def __call__(self, prompt: str) -> str:
        """The conversation plus the assistant header: the score token comes next."""
        messages = self.messages(prompt)
        if self.prompt_format == "chat_template":
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.conversation(prompt) + _LLAMA3_GENERATION

    def conversation(self, prompt: str) -> str:
        """The conversation up to the end of the user turn (RouteLLM's prompt: the model writes the
        assistant header, then its score token)."""
        messages = self.messages(prompt)
        if self.prompt_format == "chat_template":
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        return "".join(_LLAMA3_TURN.format(**m) for m in messages)
