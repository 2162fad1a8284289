"""nn.utils.weight_norm / remove_weight_norm against torch.nn.utils.weight_norm: parameter
shapes, state_dict keys, values and gradients of weight_g and weight_v, recomputation
before each forward, removal and errors."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")


def _torch_weight_norm(*args, **kwargs):
    with warnings.catch_warnings():  # (deprecated in torch in favour of parametrizations)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(*args, **kwargs)


def _pair(build, **kw):
    torch.manual_seed(0)
    tm = build(torch.nn)
    mm = build(nn).double()
    tm = tm.double()
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return nn.utils.weight_norm(mm, **kw), _torch_weight_norm(tm, **kw)


CASES = [
    (lambda lib: lib.Linear(5, 3), (4, 5), {}),
    (lambda lib: lib.Linear(5, 3), (4, 5), {"dim": 1}),
    (lambda lib: lib.Linear(5, 3), (4, 5), {"dim": None}),
    (lambda lib: lib.Linear(5, 3), (4, 5), {"dim": -2}),
    (lambda lib: lib.Linear(5, 3), (4, 5), {"name": "bias"}),
    (lambda lib: lib.Conv2d(2, 4, 3), (2, 2, 5, 5), {}),
    (lambda lib: lib.Conv2d(2, 4, 3), (2, 2, 5, 5), {"dim": 2}),
    (lambda lib: lib.Conv2d(2, 4, 3), (2, 2, 5, 5), {"dim": -1}),
    (lambda lib: lib.Conv2d(2, 4, 3), (2, 2, 5, 5), {"dim": 3}),
]


@pytest.mark.parametrize("build,xshape,kw", CASES)
def test_parity_with_torch(build, xshape, kw):
    mm, tm = _pair(build, **kw)
    name = kw.get("name", "weight")
    assert list(mm.state_dict()) == list(tm.state_dict())
    for suffix in ("_g", "_v"):
        a, b = getattr(mm, name + suffix), getattr(tm, name + suffix)
        assert isinstance(a, nn.Parameter) and a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-14)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xshape)
    ym, yt = mm(mg.tensor(x)), tm(torch.tensor(x))
    up = rng.standard_normal(tuple(yt.shape))
    np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-13)
    (ym * mg.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    for suffix in ("_g", "_v"):
        np.testing.assert_allclose(getattr(mm, name + suffix).grad.numpy(),
                                   getattr(tm, name + suffix).grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_weight_recomputed_before_each_forward_and_removed():
    mm, tm = _pair(lambda lib: lib.Linear(4, 2))
    x = np.random.default_rng(1).standard_normal((3, 4))
    for m, lib in ((mm, mg), (tm, torch)):
        with (mg.no_grad() if lib is mg else torch.no_grad()):
            m.weight_g.mul_(2.0)
            m.weight_v.add_(0.5)
    np.testing.assert_allclose(mm(mg.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    nn.utils.remove_weight_norm(mm)
    torch.nn.utils.remove_weight_norm(tm)
    # (as in torch, the weight is re-added after the bias)
    assert list(mm.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert isinstance(mm.weight, nn.Parameter) and len(mm._forward_pre_hooks) == 0
    np.testing.assert_allclose(mm.weight.detach().numpy(), tm.weight.detach().numpy(),
                               rtol=1e-12)


def test_state_dict_round_trip_from_torch():
    mm, tm = _pair(lambda lib: lib.Linear(4, 2))
    with torch.no_grad():
        tm.weight_g.mul_(3.0)
    mm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 4))
    np.testing.assert_allclose(mm(mg.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_errors():
    m = nn.utils.weight_norm(nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the "
                                           "same parameter weight"):
        nn.utils.weight_norm(m)
    nn.utils.remove_weight_norm(m)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(m)
    with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\], but got 3"):
        nn.utils.weight_norm(nn.Linear(3, 2), dim=3)
