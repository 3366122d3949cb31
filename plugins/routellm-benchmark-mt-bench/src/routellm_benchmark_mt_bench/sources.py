"""Pinned public sources of MT Bench: questions (FastChat) and GPT-4 judgements (RouteLLM), Apache-2.0."""

from routellm.downloads import PinnedFile

FILES: dict[str, PinnedFile] = {
    "question.jsonl": PinnedFile(
        "https://raw.githubusercontent.com/lm-sys/FastChat/589532dcfa83700f950b9aa3983416c543afabc0/fastchat/llm_judge/data/mt_bench/question.jsonl",
        "119565adbab82227089cefdb44c8d7e2cf04dc0a0ec233634c82e7d4e2a944f7",
    ),
    "judgements.jsonl": PinnedFile(
        "https://raw.githubusercontent.com/lm-sys/RouteLLM/fbc851126beb19d6385d98c934554614135baa69/routellm/evals/mt_bench/judgements.jsonl",
        "ffd1d44e7af835c810d35ebd420b88a47acd8aac850f46b149b9889964ae4478",
    ),
    "contaminated_prompts.jsonl": PinnedFile(
        "https://raw.githubusercontent.com/lm-sys/RouteLLM/2c3f0472cf968ff98966dc14928e2482fcfcc26a/routellm/evals/mt_bench/contaminated_prompts.jsonl",
        "a77356ecd7cab6ba9bfb6d7b91c512f83aee4f82309934387a6cdfb915882109",
    ),
}
