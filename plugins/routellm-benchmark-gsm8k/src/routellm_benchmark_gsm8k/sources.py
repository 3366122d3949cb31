"""Pinned public sources of the GSM8K results (RouteLLM's published files, Apache-2.0)."""

from routellm.downloads import PinnedFile

FILES: dict[str, PinnedFile] = {
    "gsm8k_responses.csv": PinnedFile(
        "https://raw.githubusercontent.com/lm-sys/RouteLLM/c2ad69388688796a93a4424e7a0dc9072ea372d2/routellm/evals/gsm8k/gsm8k_responses.csv",
        "1f38ed03db354a020f71e92022383dc3cf37bbf2694dea4daaeea7b6c43fe57b",
    ),
    "contaminated_prompts.jsonl": PinnedFile(
        "https://raw.githubusercontent.com/lm-sys/RouteLLM/2c3f0472cf968ff98966dc14928e2482fcfcc26a/routellm/evals/gsm8k/contaminated_prompts.jsonl",
        "1f5a7be02148ee0f7f306d233ba76a6573c826cee9499a34f8ef938a1a84c234",
    ),
}
