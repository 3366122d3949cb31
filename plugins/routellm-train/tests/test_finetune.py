import numpy as np
import pytest

from routellm.errors import ConfigError
from routellm_train.finetune import FitOptions, fit, length_grouped_batches

torch = pytest.importorskip("torch")  # the loop is torch's; core itself does not depend on it


def test_length_grouped_batches_cover_every_item_once():
    lengths = list(np.random.default_rng(0).integers(1, 100, 103))
    batches = length_grouped_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert all(len(b) <= 8 for b in batches)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="epochs"):
        FitOptions(epochs=0)
    with pytest.raises(ConfigError, match="learning_rate"):
        FitOptions(learning_rate=0)


def _regression():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)

    def loss_fn(index):
        return torch.nn.functional.mse_loss(model(x[index]).squeeze(-1), y[index])

    return model, loss_fn


def test_fit_trains_and_stops_early_restoring_the_best_weights():
    model, loss_fn = _regression()
    # A validation metric that is best at the 2nd evaluation and worse after.
    scripted = iter([3.0, 1.0, 2.0, 2.5, 9.0, 9.0])
    seen = []

    def evaluate():
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"val_loss": next(scripted)}

    result = fit(
        model, lengths=[1] * 64, loss_fn=loss_fn, evaluate=evaluate,
        options=FitOptions(epochs=6, batch_size=16, learning_rate=0.05, patience=2, progress=False),
    )
    assert result.stopped_early and len(result.history) == 4
    assert result.best.step == 8 and result.best.metrics["val_loss"] == 1.0
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, seen[1][key])
    assert not model.training


def test_fit_reduces_the_loss():
    model, loss_fn = _regression()
    with torch.no_grad():
        before = float(loss_fn(list(range(64))))

    def evaluate():
        return {"val_loss": float(loss_fn(list(range(64))))}

    result = fit(
        model, lengths=[1] * 64, loss_fn=loss_fn, evaluate=evaluate,
        options=FitOptions(epochs=30, batch_size=16, learning_rate=0.1, warmup_ratio=0.0, patience=0, progress=False),
    )
    assert result.best.metrics["val_loss"] < before / 10
    assert result.steps == 120 and not result.stopped_early
    with torch.no_grad():
        assert float(loss_fn(list(range(64)))) == pytest.approx(result.best.metrics["val_loss"])
