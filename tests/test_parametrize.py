"""nn.utils.parametrize against torch.nn.utils.parametrize: the same parametrizations
(written once for both libraries) give the same parametrized values, state dict keys,
outputs, gradients and training steps; right_inverse, several originals, chains, unsafe,
removal, caching, and the errors."""
import copy
import pickle

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.utils.parametrize as P


def _lib(torch, name):
    """(library, nn, parametrize) for "mg" or "torch"."""
    if name == "mg":
        return mg, nn, P
    import torch.nn.utils.parametrize as TP
    return torch, torch.nn, TP


def _symmetric(lib_nn):
    class Symmetric(lib_nn.Module):
        calls = 0

        def forward(self, X):
            type(self).calls += 1
            return X.triu() + X.triu(1).transpose(-1, -2)
    return Symmetric


def _exp(lib_nn):
    class Exp(lib_nn.Module):
        def forward(self, X):
            return X.exp()

        def right_inverse(self, Y):
            return Y.log()
    return Exp


def _rank_one(lib_nn):
    class RankOne(lib_nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            return Z[:, 0], Z[0, :]
    return RankOne


def _scale(lib_nn):
    class Scale(lib_nn.Module):
        def __init__(self, s):
            super().__init__()
            self.s = s

        def forward(self, X):
            return X * self.s

        def right_inverse(self, Y):
            return Y / self.s
    return Scale


def _linear(lib, lib_nn, weight, bias):
    m = lib_nn.Linear(weight.shape[1], weight.shape[0]).double()
    with lib.no_grad():
        m.weight.copy_(lib.tensor(weight))
        m.bias.copy_(lib.tensor(bias))
    return m


W = np.random.default_rng(0).standard_normal((4, 4))
B = np.random.default_rng(1).standard_normal(4)
X = np.random.default_rng(2).standard_normal((5, 4))


def _numpy(t):
    return t.detach().numpy()


def test_symmetric_weight_as_in_torch(torch):
    results = {}
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, W, B)
        weight = m.weight
        opt = (mg.optim if name == "mg" else torch.optim).SGD(m.parameters(), lr=0.1)
        p.register_parametrization(m, "weight", _symmetric(lib_nn)())
        assert type(m).__name__ == "ParametrizedLinear"
        assert p.is_parametrized(m) and p.is_parametrized(m, "weight")
        assert not p.is_parametrized(m, "bias")
        assert p.type_before_parametrizations(m) is lib_nn.Linear
        assert m.parametrizations.weight.original is weight     # the same Parameter
        for _ in range(3):
            opt.zero_grad()
            loss = (m(lib.tensor(X)) ** 2).sum()
            loss.backward()
            opt.step()
        results[name] = dict(
            keys=list(m.state_dict()), params=[n for n, _ in m.named_parameters()],
            weight=_numpy(m.weight), original=_numpy(m.parametrizations.weight.original),
            out=_numpy(m(lib.tensor(X))), grad=m.parametrizations.weight.original.grad.numpy())
    ours, theirs = results["mg"], results["torch"]
    assert ours["keys"] == theirs["keys"] == ["bias", "parametrizations.weight.original"]
    assert ours["params"] == theirs["params"]
    np.testing.assert_allclose(ours["weight"], ours["weight"].T, rtol=0, atol=0)
    for key in ("weight", "original", "out", "grad"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14, err_msg=key)


def test_right_inverse_sets_the_original_and_assignment_goes_through_it(torch):
    positive = np.abs(W) + 0.5
    results = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, positive, B)
        p.register_parametrization(m, "weight", _exp(lib_nn)())
        np.testing.assert_allclose(_numpy(m.weight), positive, rtol=1e-14)
        first = _numpy(m.parametrizations.weight.original).copy()
        m.weight = lib.tensor(positive * 2)            # through right_inverse
        results.append((first, _numpy(m.parametrizations.weight.original), _numpy(m.weight)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    np.testing.assert_allclose(results[0][0], np.log(positive), rtol=1e-14)
    np.testing.assert_allclose(results[0][2], positive * 2, rtol=1e-14)


def test_several_originals(torch):
    results = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, np.outer(B, B[::-1]), B)
        p.register_parametrization(m, "weight", _rank_one(lib_nn)())
        chain = m.parametrizations.weight
        assert (chain.is_tensor, chain.ntensors) == (False, 2)
        keys = list(m.state_dict())
        (m(lib.tensor(X)) ** 2).sum().backward()
        results.append((keys, _numpy(m.weight), chain.original0.grad.numpy(),
                        chain.original1.grad.numpy()))
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            p.remove_parametrizations(m, "weight", leave_parametrized=False)
        p.remove_parametrizations(m, "weight")
        assert isinstance(m.weight, (nn.Parameter if name == "mg" else torch.nn.Parameter))
    assert results[0][0] == results[1][0] == ["bias", "parametrizations.weight.original0",
                                              "parametrizations.weight.original1"]
    for a, b in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_chained_parametrizations_and_their_state(torch):
    results = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, W, B)
        p.register_parametrization(m, "weight", _symmetric(lib_nn)())
        p.register_parametrization(m, "weight", _scale(lib_nn)(3.0))
        assert len(m.parametrizations.weight) == 2
        results.append((list(m.state_dict()), _numpy(m.weight), _numpy(m(lib.tensor(X)))))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1:], results[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_shape_and_dtype_checks_and_unsafe(torch):
    messages = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)

        class Transpose(lib_nn.Module):
            def forward(self, X):
                return X.T

        m = lib_nn.Linear(3, 2)
        with pytest.raises(ValueError) as e:
            p.register_parametrization(m, "weight", Transpose())
        messages.append(str(e.value))
        assert not p.is_parametrized(m) and type(m) is lib_nn.Linear
        p.register_parametrization(m, "weight", Transpose(), unsafe=True)
        assert tuple(m.weight.shape) == (3, 2)
        with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
            p.register_parametrization(m, "nothing", Transpose())
    assert messages[0].replace("(2, 3)", "torch.Size([2, 3])") \
        .replace("(3, 2)", "torch.Size([3, 2])") == messages[1]


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(torch, leave):
    results = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, W, B)
        weight = m.weight
        p.register_parametrization(m, "weight", _symmetric(lib_nn)())
        p.remove_parametrizations(m, "weight", leave_parametrized=leave)
        assert type(m) is lib_nn.Linear and not p.is_parametrized(m)
        assert "parametrizations" not in dict(m.named_children())
        assert m.weight is weight
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            p.remove_parametrizations(m, "weight")
        results.append((list(m.state_dict()), _numpy(m.weight)))
    assert results[0][0] == results[1][0] == ["bias", "weight"]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0)
    np.testing.assert_allclose(results[0][1], (np.triu(W) + np.triu(W, 1).T) if leave else W)


def test_cached_computes_once_per_block(torch):
    counts = []
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        sym = _symmetric(lib_nn)
        m = _linear(lib, lib_nn, W, B)
        p.register_parametrization(m, "weight", sym())
        sym.calls = 0
        m.weight, m.weight
        outside = sym.calls
        with p.cached():
            a = m.weight
            with p.cached():
                assert m.weight is a
            assert m.weight is a
        inside = sym.calls - outside
        m.weight
        counts.append((outside, inside, sym.calls - outside - inside))
    assert counts[0] == counts[1] == (2, 1, 1)


def test_a_buffer_can_be_parametrized(torch):
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        bn = lib_nn.BatchNorm1d(3).double()
        p.register_parametrization(bn, "running_var", _scale(lib_nn)(2.0))
        assert "parametrizations.running_var.original" in [n for n, _ in bn.named_buffers()]
        np.testing.assert_array_equal(_numpy(bn.running_var), np.ones(3))
        np.testing.assert_array_equal(_numpy(bn.parametrizations.running_var.original),
                                      np.full(3, 0.5))


def test_assignment_rules(torch):
    for name in ("mg", "torch"):
        lib, lib_nn, p = _lib(torch, name)
        m = _linear(lib, lib_nn, W, B)
        p.register_parametrization(m, "weight", _symmetric(lib_nn)())
        with pytest.raises(KeyError, match="attribute 'weight' already exists"):
            m.weight = lib_nn.Parameter(lib.zeros(4, 4, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="does not implement right_inverse"):
            m.weight = lib.zeros(4, 4, dtype=lib.float64)


def test_copies_and_checkpoints(tmp_path):
    m = nn.Linear(4, 4).double()
    P.register_parametrization(m, "weight", _symmetric(nn)())
    clone = copy.deepcopy(m)
    assert type(clone).__name__ == "ParametrizedLinear"
    assert clone.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_array_equal(_numpy(clone.weight), _numpy(m.weight))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    mg.save(m.state_dict(), tmp_path / "p.npz")
    other = nn.Linear(4, 4).double()
    P.register_parametrization(other, "weight", _symmetric(nn)())
    other.load_state_dict(mg.load(tmp_path / "p.npz"))
    np.testing.assert_array_equal(_numpy(other.weight), _numpy(m.weight))


def test_transfer_parametrizations_and_params():
    a = nn.Linear(4, 4).double()
    P.register_parametrization(a, "weight", _symmetric(nn)())
    b = nn.Linear(4, 4).double()
    P.transfer_parametrizations_and_params(a, b)
    assert P.is_parametrized(b, "weight")
    np.testing.assert_array_equal(_numpy(b.weight), _numpy(a.weight))


def test_training_mode_follows_the_module():
    m = nn.Linear(2, 2).eval()
    sym = _symmetric(nn)()
    P.register_parametrization(m, "weight", sym)
    assert not sym.training
    m.train()
    assert sym.training


def test_on_a_device(device):
    m = _linear(mg, nn, W, B).to(device)
    P.register_parametrization(m, "weight", _symmetric(nn)())
    assert m.parametrizations.weight.original.device == mg.device(device)
    out = m(mg.tensor(X, device=device))
    (out ** 2).sum().backward()
    ref = _linear(mg, nn, W, B)
    P.register_parametrization(ref, "weight", _symmetric(nn)())
    (ref(mg.tensor(X)) ** 2).sum().backward()
    np.testing.assert_allclose(m.parametrizations.weight.original.grad.cpu().numpy(),
                               ref.parametrizations.weight.original.grad.numpy(), rtol=1e-10)
    P.remove_parametrizations(m, "weight")
    assert m.weight.device == mg.device(device)
