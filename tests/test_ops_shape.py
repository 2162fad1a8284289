"""Shapes and layout against PyTorch: t/mT/H, narrow, movedim, unflatten, unfold,
contiguous/is_contiguous/stride, view_as, Size, the axis= aliases, in-place reshapes."""
import pickle

import numpy as np
import pytest

import minigrad as mg


def _msg(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value).__name__, str(info.value).split("\n")[0]


def _same_errors(torch, call):
    assert _msg(lambda: call(mg)) == _msg(lambda: call(torch))


def _both(torch, shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(out, ref, a, ta):
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(out.detach().numpy(), ref.detach().numpy())
    g = np.random.default_rng(5).standard_normal(tuple(ref.shape))
    out.backward(mg.tensor(g))
    ref.backward(torch_tensor(ref, g))
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())


def torch_tensor(like, g):
    import torch
    return torch.tensor(g, dtype=like.dtype)


@pytest.mark.parametrize("fn,shape", [
    (lambda x: x.t(), (2, 3)), (lambda x: x.t(), (3,)), (lambda x: x.mT, (2, 3, 4)),
    (lambda x: x.mH, (3, 4)), (lambda x: x.H, (2, 3)), (lambda x: x.narrow(1, -2, 2), (2, 3)),
    (lambda x: x.narrow(0, 1, 0), (2, 3)), (lambda x: x.movedim((0, 1), (2, 0)), (2, 3, 4)),
    (lambda x: x.movedim(-1, 0), (2, 3, 4)), (lambda x: x.swapaxes(0, 2), (2, 3, 4)),
    (lambda x: x.unflatten(1, (3, -1)), (2, 12)), (lambda x: x.unflatten(-1, (2, 6)), (2, 12)),
    (lambda x: x.unfold(0, 3, 2), (7,)), (lambda x: x.unfold(1, 2, 1), (2, 5, 3)),
    (lambda x: x.unfold(0, 0, 1), (5,)), (lambda x: x.view_as(x.reshape(6, 2)), (3, 4)),
    (lambda x: x.T.contiguous().view(-1), (3, 4)),
])
def test_views_match_torch(torch, fn, shape):
    a, ta = _both(torch, shape)
    _check(fn(a), fn(ta), a, ta)


def test_view_errors_are_torchs(torch):
    for call in [lambda m: m.ones(2, 3, 4).t(), lambda m: m.ones(3).mT, lambda m: m.ones(3).H,
                 lambda m: m.ones(2, 3, 4).H, lambda m: m.ones(2, 3).narrow(1, 4, 0),
                 lambda m: m.ones(2, 3).narrow(1, 2, 2), lambda m: m.ones(2, 3).narrow(1, 1, -1),
                 lambda m: m.tensor(1.0).narrow(0, 0, 1),
                 lambda m: m.ones(2, 3, 4).movedim((0, 0), (1, 2)),
                 lambda m: m.ones(2, 3, 4).movedim((0, 1), (1,)),
                 lambda m: m.ones(2, 12).unflatten(1, (5, -1)),
                 lambda m: m.ones(2, 12).unflatten(1, ()),
                 lambda m: m.ones(5).unfold(0, 6, 1), lambda m: m.ones(5).unfold(0, 2, 0)]:
        _same_errors(torch, call)


def test_dims_out_of_range_raise_index_errors():
    for call in [lambda: mg.ones(2, 3).narrow(2, 0, 1), lambda: mg.ones(2, 3).movedim(3, 1),
                 lambda: mg.ones(2, 3).unflatten(2, (1, 3)), lambda: mg.ones(2, 3).unfold(2, 1, 1)]:
        with pytest.raises(IndexError, match="out of range"):
            call()


def test_narrow_takes_a_tensor_start_and_shares_memory(torch):
    x = mg.arange(6.0).reshape(2, 3)
    y = x.narrow(1, mg.tensor(1), 2)
    y[0, 0] = 10.0
    assert x[0, 1].item() == 10.0 and y.shape == (2, 2)


def test_contiguous_copies_only_when_needed_and_is_recorded(torch):
    """The defect: x.T.contiguous() kept transposed strides, so .view(-1) raised."""
    x = mg.randn(3, 4)
    assert x.contiguous() is x
    y = x.T.contiguous()
    assert y.is_contiguous() and y.stride() == (3, 1)
    np.testing.assert_array_equal(y.view(-1).numpy(), x.numpy().T.reshape(-1))
    w = mg.randn(3, 4, requires_grad=True)
    z = w.T.contiguous()
    assert z.grad_fn is not None
    (z * mg.arange(12.0).reshape(4, 3)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.arange(12.0).reshape(4, 3).T)


@pytest.mark.parametrize("make", [
    lambda m: m.ones(2, 3), lambda m: m.ones(2, 3).T, lambda m: m.ones(2, 1).T,
    lambda m: m.ones(3, 2)[::2], lambda m: m.ones(0, 3).T, lambda m: m.ones(3, 1).expand(3, 3),
    lambda m: m.ones(2, 3, 4).permute(0, 2, 1), lambda m: m.ones(2, 3, 4)[:, 1],
    lambda m: m.ones(4, 5)[1:3, :], lambda m: m.ones(2, 3).unsqueeze(1),
    lambda m: m.tensor(2.0), lambda m: m.ones(4, 5)[:, 1:3],
])
def test_is_contiguous_and_stride_agree_with_torch(torch, make):
    a, t = make(mg), make(torch)
    assert a.is_contiguous() == t.is_contiguous()
    if t.numel():   # (an empty tensor's strides are arbitrary, NumPy's and torch's differ)
        assert a.stride() == t.stride()
        if a.ndim:
            assert a.stride(-1) == t.stride(-1)
    if not t.is_contiguous():
        assert a.contiguous().is_contiguous()


def test_stride_dim_out_of_range():
    with pytest.raises(IndexError, match="out of range"):
        mg.ones(2, 3).stride(2)


def test_size_is_torchs(torch):
    x = mg.ones(2, 3)
    s, ts = x.shape, torch.ones(2, 3).shape
    assert isinstance(s, mg.Size) and isinstance(s, tuple) and x.size() == s
    assert s == (2, 3) and s.numel() == 6 and repr(s) == repr(ts).replace("torch", "minigrad")
    assert str(s) == "minigrad.Size([2, 3])" and f"{s}" == "(2, 3)"   # (documented)
    for got, want in [(s[1:], ts[1:]), (s + (4,), ts + (4,)), ((4,) + s, (4,) + ts),
                      (s * 2, ts * 2)]:
        assert type(got) is mg.Size and tuple(got) == tuple(want)
    assert isinstance(s[0], int) and mg.Size([2, mg.tensor(3)]) == (2, 3)
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is mg.Size
    with pytest.raises(TypeError, match="item 0 is 'float'"):
        mg.Size([2.5])
    assert mg.ones(4).reshape(mg.Size([2, 2])).shape == (2, 2)


def test_nelement_and_view_as():
    x = mg.ones(2, 3)
    assert x.nelement() == 6 == x.numel()
    assert x.view_as(mg.zeros(3, 2)).shape == (3, 2)


def test_axis_aliases_where_torch_has_them(torch):
    a = np.arange(6.0).reshape(2, 3)
    x, t = mg.tensor(a), torch.tensor(a)
    idx = np.zeros((1, 3), dtype=np.int64)
    for call in [lambda m, v: v.argmax(axis=1), lambda m, v: v.argmin(axis=0),
                 lambda m, v: m.cat([v, v], axis=1), lambda m, v: m.stack([v, v], axis=1),
                 lambda m, v: v.unsqueeze(axis=0), lambda m, v: v[None].squeeze(axis=0),
                 lambda m, v: v.softmax(axis=0), lambda m, v: m.log_softmax(v, axis=1),
                 lambda m, v: m.std_mean(v, axis=0)[0], lambda m, v: v.cumsum(axis=1),
                 lambda m, v: v.narrow(axis=1, start=1, length=2),
                 lambda m, v: m.repeat_interleave(v, 2, axis=0),
                 lambda m, v: v.gather(axis=0, index=m.tensor(idx)),
                 lambda m, v: v.sort(axis=0).values, lambda m, v: v.topk(1, axis=0).values,
                 lambda m, v: v.chunk(2, axis=1)[0], lambda m, v: v.unbind(axis=1)[0],
                 lambda m, v: v.index_select(axis=1, index=m.tensor([0])),
                 lambda m, v: v.index_add(axis=0, index=m.tensor([0]), source=m.ones(1, 3,
                                                                                  dtype=m.float64)),
                 lambda m, v: m.concat([v, v], axis=0)]:
        np.testing.assert_allclose(call(mg, x).numpy(), call(torch, t).numpy(), rtol=1e-12)


def test_inplace_reshapes(torch):
    x = mg.ones(2)
    assert x.unsqueeze_(0) is x and x.shape == (1, 2)
    assert x.squeeze_() is x and x.shape == (2,)
    assert mg.unsqueeze_(x, 1).shape == (2, 1) and mg.squeeze_(x, 1).shape == (2,)
    a, ta = _both(torch, (2,))
    y, ty = a * 2, ta * 2
    y.unsqueeze_(0)
    ty.unsqueeze_(0)
    _check(y, ty, a, ta)
    _same_errors(torch, lambda m: m.ones(2, requires_grad=True).unsqueeze_(0))


def test_concat_aliases():
    a = mg.ones(2)
    assert mg.concat([a, a]).shape == (4,) == mg.concatenate([a, a]).shape
