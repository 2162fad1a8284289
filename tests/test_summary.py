"""minigrad.utils.summary, torchinfo's layer table: parameter totals, one row per module
call in call order with the shapes the model really produces, modes and requires_grad
left as they were, and the documented memory estimate checked by hand."""
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.utils.summary import ModelStatistics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from _common import bn_mlp  # noqa: E402


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def frozen_mlp():
    net = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 3))
    net[0].requires_grad_(False)
    net[1].weight.requires_grad_(False)
    return net


def nested():
    return nn.Sequential(nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.ReLU(), nn.Linear(8, 8))),
                         nn.Linear(8, 2))


class LSTMHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 7, num_layers=2, batch_first=True)
        self.head = nn.Linear(7, 3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out[:, -1])


MODELS = {  # name: (model, input shape)
    "bn_mlp": (lambda: bn_mlp(True), (2, 1, 28, 28)),
    "cnn": (small_cnn, (2, 1, 8, 8)),
    "frozen": (frozen_mlp, (3, 6)),
    "lstm": (LSTMHead, (2, 4, 5)),
    "nested": (nested, (3, 4)),
}


@pytest.fixture(params=sorted(MODELS))
def case(request):
    mg.manual_seed(0)
    build, shape = MODELS[request.param]
    return build(), shape


def test_totals_are_the_parameters(case):
    model, shape = case
    stats = mg.utils.summary(model, shape, verbose=0)
    params = list(model.parameters())
    assert stats.total_params == sum(p.numel() for p in params)
    assert stats.trainable_params == sum(p.numel() for p in params if p.requires_grad)
    assert stats.non_trainable_params == sum(p.numel() for p in params if not p.requires_grad)
    assert stats.total_param_bytes == sum(p.nbytes for p in params)
    text = str(stats)
    assert f"Total params: {stats.total_params:,}" in text
    assert f"Trainable params: {stats.trainable_params:,}" in text


def test_frozen_parameters_are_non_trainable():
    stats = mg.utils.summary(frozen_mlp(), (3, 6), verbose=0)
    assert stats.non_trainable_params == 6 * 5 + 5 + 5            # Linear(6, 5) and BN's weight
    assert stats.trainable_params == 5 + 5 * 3 + 3                # BN's bias and Linear(5, 3)


def test_buffers_are_not_parameters():
    model = small_cnn()
    stats = mg.utils.summary(model, (2, 1, 8, 8), verbose=0)
    assert sum(b.numel() for b in model.buffers()) > 0            # running stats exist
    assert stats.total_params == 4 * 9 + 4 + 2 * 4 + 64 * 10 + 10
    bn_row = next(r for r in stats.summary_list if r.class_name == "BatchNorm2d")
    assert bn_row.num_params == 8


def expected_rows(module, x, depth=0):
    """(module, depth, output shape) in pre-order, running each Sequential's children one
    after another on the real intermediate values."""
    rows = [(module, depth, list(module(x).shape))]
    if isinstance(module, nn.Sequential):
        for child in module:
            rows += expected_rows(child, x, depth + 1)
            x = child(x)
    return rows


@pytest.mark.parametrize("name", ["bn_mlp", "cnn", "frozen", "nested"])
def test_every_layer_once_in_order_with_its_shape(name):
    build, shape = MODELS[name]
    model = build().eval()
    stats = mg.utils.summary(model, shape, verbose=0, depth=10)
    with mg.no_grad():
        expected = expected_rows(model, mg.rand(*shape))
    got = [(r.module, r.depth, r.output_size) for r in stats.summary_list]
    assert len(got) == len(expected) == len(list(model.modules()))
    for (m, d, s), (em, ed, es) in zip(got, expected):
        assert m is em and d == ed and s == es
    # the table prints each row, with torchinfo's "Type: depth-idx" names
    lines = str(stats).splitlines()
    for row in stats.summary_list[1:]:
        assert sum(f"{row.class_name}: {row.depth}-{row.depth_index}" in l for l in lines) == 1


def test_depth_cuts_the_table_and_sums_the_cut_subtrees():
    model = nested()
    stats = mg.utils.summary(model, (3, 4), depth=1, verbose=0)
    lines = str(stats).splitlines()
    assert any("├─Sequential: 1-1" in l and "112" in l for l in lines)   # 4*8+8 + 8*8+8
    assert not any("Linear: 2-" in l for l in lines)
    assert len(stats.summary_list) == 7                                 # all rows are kept
    deep = mg.utils.summary(model, (3, 4), depth=3, verbose=0)
    assert "│    │    └─Linear: 3-2" in str(deep)


def test_lstm_row_shows_the_first_output():
    stats = mg.utils.summary(LSTMHead(), (2, 4, 5), verbose=0)
    rows = {r.class_name: r for r in stats.summary_list}
    assert rows["LSTM"].output_size == [2, 4, 7]                       # output of (output, (h, c))
    assert rows["LSTM"].num_params == sum(p.numel() for p in rows["LSTM"].module.parameters())
    assert rows["LSTMHead"].output_size == [2, 3]
    # its bytes count the whole tuple: output, h and c
    assert rows["LSTM"].output_bytes == 4 * (2 * 4 * 7 + 2 * (2 * 2 * 7))


def test_mode_and_requires_grad_are_restored():
    model = frozen_mlp().train()
    model[1].eval()                                      # a mixed model stays mixed
    before = [m.training for m in model.modules()]
    grads = [p.requires_grad for p in model.parameters()]
    mean = model[1].running_mean.numpy().copy()
    stats = mg.utils.summary(model, (3, 6), verbose=0)
    assert [m.training for m in model.modules()] == before
    assert [p.requires_grad for p in model.parameters()] == grads
    assert all(p.grad is None for p in model.parameters())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), mean)   # ran in eval mode
    assert not model._forward_hooks and not model[0]._forward_pre_hooks
    assert stats.total_params > 0

    model = frozen_mlp().eval()
    mg.utils.summary(model, (3, 6), verbose=0, mode="train")      # BN updates, flags return
    assert not any(m.training for m in model.modules())
    assert not np.array_equal(model[1].running_mean.numpy(), np.zeros(5))


def test_hooks_removed_and_modes_restored_when_forward_raises():
    model = nested().train()
    with pytest.raises(Exception):
        mg.utils.summary(model, (3, 5), verbose=0)                   # wrong width
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_memory_by_hand():
    """Linear(3, 2) then ReLU on a (4, 3) float32 input: the documented estimate."""
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    stats = mg.utils.summary(model, (4, 3), verbose=0)
    assert stats.total_input == 4 * 3 * 4                            # 48 bytes of input
    assert stats.total_output_bytes == 2 * (4 * 2 * 4 + 4 * 2 * 4)   # 2 x (Linear + ReLU outputs)
    assert stats.total_param_bytes == (3 * 2 + 2) * 4                # 32 bytes of parameters
    assert stats.total_mult_adds == 4 * 2 * 3
    text = str(stats)
    for line in ("Input size (MB): 0.00", "Forward/backward pass size (MB): 0.00",
                 "Params size (MB): 0.00", "Estimated Total Size (MB): 0.00",
                 "Total mult-adds (M): 0.00"):
        assert line in text
    big = mg.utils.summary(nn.Linear(1000, 1000), (500, 1000), verbose=0)
    assert "Input size (MB): 2.00" in str(big)                        # 500*1000*4 / 1e6
    assert "Forward/backward pass size (MB): 4.00" in str(big)
    assert "Params size (MB): 4.00" in str(big)                       # 1,001,000 * 4 / 1e6
    assert "Estimated Total Size (MB): 10.00" in str(big)


def test_inputs_from_data_dtypes_and_several_shapes():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y)

    model = Two().double()
    stats = mg.utils.summary(model, [(2, 3), (2, 5)], dtypes=[mg.float64, mg.float64], verbose=0)
    assert stats.total_input == 8 * (2 * 3 + 2 * 5)
    x, y = mg.randn(4, 3, dtype=mg.float64), mg.randn(4, 5, dtype=mg.float64)
    for data in ([x, y], (x, y), {"x": x, "y": y}):
        assert mg.utils.summary(model, input_data=data, verbose=0).summary_list[0].output_size == [4, 2]
    emb = mg.utils.summary(nn.Embedding(10, 3), (2, 4), dtypes=[mg.int64], verbose=0)
    assert emb.summary_list[0].output_size == [2, 4, 3]


def test_shared_module_is_recursive_and_counted_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    stats = mg.utils.summary(model, (2, 4), verbose=0)
    assert stats.total_params == 20
    assert [r.params_text() for r in stats.summary_list[1:]] == ["20", "--", "(recursive)"]


def test_missing_or_bad_inputs_say_what_is_needed():
    model = nested()
    with pytest.raises(ValueError, match="input_size .* or input_data"):
        mg.utils.summary(model)
    with pytest.raises(ValueError, match="both were given"):
        mg.utils.summary(model, (3, 4), input_data=mg.randn(3, 4))
    with pytest.raises(ValueError, match="1 dtypes for 2 input shapes"):
        mg.utils.summary(model, [(3, 4), (3, 4)], dtypes=[mg.float32])
    with pytest.raises(ValueError, match="mode"):
        mg.utils.summary(model, (3, 4), mode="test")
    with pytest.raises(TypeError, match="nn.Module"):
        mg.utils.summary(lambda x: x, (3, 4))


def test_verbose_prints_the_table(capsys):
    stats = mg.utils.summary(nested(), (3, 4))
    assert capsys.readouterr().out.strip() == str(stats)
    assert isinstance(stats, ModelStatistics)
    mg.utils.summary(nested(), (3, 4), verbose=0)
    assert capsys.readouterr().out == ""
