"""Pinned public sources: RouterBench's zero-shot results as re-split by RouterDC (no licence stated)."""

from routellm.downloads import PinnedFile

_BASE = "https://raw.githubusercontent.com/shuhao02/RouterDC/0e63989c5bf4363330b8a4616386e3f7f116d9f8/datasets/routerbench_zs"
_SHA256 = {
    "arc_challenge_test.csv": "7bffb55faca2e1f9d19f7197c652884780a1e0f7fe14bad5b2b1c6afbe7a6769",
    "arc_challenge_train.csv": "59e044850520be06f74dd9766b9ab4621d783f7fa5269d7dda118b9abb115d78",
    "mbpp_test.csv": "156fb843b706b765162d74f5fc4928322be5041791b45bd3e1bd732d998c4032",
    "mbpp_train.csv": "2a985adc3a3016b5ae4d62229722cdff9ece58aa1338206a6b12e4957304452b",
    "winograde_test.csv": "de7c8689d4b682c860b660988808ee2e40366b12076811e7891081facec4a2e1",
    "winograde_train.csv": "f6d54caab59bebb9facf3407c515a07a20faf4e75c639b7e91988ceaf312906a",
}
FILES: dict[str, PinnedFile] = {name: PinnedFile(f"{_BASE}/{name}", digest) for name, digest in _SHA256.items()}
#: The three tasks, as the files name them.
TASKS = ("arc_challenge", "winograde", "mbpp")
