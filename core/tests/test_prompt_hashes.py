from routellm.prompt_hashes import normalise, prompt_hash, prompt_hashes


def test_normalise_ignores_case_punctuation_and_spacing():
    assert normalise("  What is 2+2?\n") == "what is 2 2"
    assert normalise("ＡＢＣ_def") == "abc def"  # NFKC folds full-width letters; underscores are separators


def test_hash_is_stable_and_short():
    assert prompt_hash("What is 2+2?") == prompt_hash("what is 2 + 2")
    assert prompt_hash("What is 2+2?") != prompt_hash("What is 2+3?")
    assert len(prompt_hash("x")) == 16
    assert prompt_hashes(["a", "A", "b"]) == {prompt_hash("a"), prompt_hash("b")}
