import polars as pl

from routellm.battles import load_battles


def test_row_index_follows_filtering(tmp_path):
    path = tmp_path / "b.parquet"
    pl.DataFrame(
        {
            "model_a": ["x", "x", "y"],
            "model_b": ["y", "z", "z"],
            "prompt": ['["first"]', '[""]', "third"],
            "winner_model_a": [1, 0, 0],
            "winner_model_b": [0, 1, 0],
            "winner_tie": [0, 0, 1],
        }
    ).write_parquet(path)
    battles = load_battles(path, row_index=True)
    assert battles["row"].to_list() == [0, 2]  # the empty prompt is dropped, rows keep their source number
    assert battles["winner"].to_list() == ["model_a", "tie"]
    assert "row" not in load_battles(path).columns
