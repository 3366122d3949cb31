import json

import polars as pl

from routellm.benchmark import decontamination_note, listed_as_contaminated


def test_listed_as_contaminated_matches_any_column(tmp_path):
    path = tmp_path / "contaminated_prompts.jsonl"
    path.write_text("".join(json.dumps({"eval_prompt": p, "train_prompt": "x"}) + "\n" for p in ["b", "z"]))
    frame = pl.DataFrame({"turn1": ["a", "b", "c", "d"], "turn2": ["e", "f", "z", "g"]})
    assert frame.filter(listed_as_contaminated(path, "turn1", "turn2"))["turn1"].to_list() == ["b", "c"]
    assert frame.filter(~listed_as_contaminated(path, "turn1"))["turn1"].to_list() == ["a", "c", "d"]


def test_decontamination_note():
    assert decontamination_note("GSM8K", 1307, 1319, "questions") == "GSM8K: 1307/1319 questions remain after decontamination"
