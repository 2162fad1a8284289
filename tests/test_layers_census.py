"""The torch.nn names the API census found missing, against PyTorch in float64: pixel
(un)shuffle, padding layers, PReLU and the in-place activations, 1-D adaptive pooling,
cosine similarity and distance, the cosine embedding loss, EmbeddingBag and one_hot,
affine_grid and grid_sample, and the nn.init additions. Outputs, the input gradient and
every parameter gradient; reprs, state_dict keys, initialization and errors."""
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from test_layers_more import R, compare_fn, compare_modules

torch = pytest.importorskip("torch")
tnn, TF = torch.nn, torch.nn.functional


def same_repr(m, t):
    assert repr(m) == repr(t)


# ---------------------------------------------------------------- pixel shuffle

@pytest.mark.parametrize("shape, r", [((2, 8, 3, 2), 2), ((9, 2, 4), 3), ((2, 1, 4, 3, 2), 2)])
def test_pixel_shuffle_matches_torch(shape, r):
    compare_fn(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), R(*shape))
    up = R(*shape[:-3], shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    compare_fn(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r), up)
    compare_modules(nn.PixelShuffle(r), tnn.PixelShuffle(r), R(*shape))
    same_repr(nn.PixelShuffle(r), tnn.PixelShuffle(r))
    same_repr(nn.PixelUnshuffle(r), tnn.PixelUnshuffle(r))
    a = np.arange(np.prod(shape)).reshape(shape)  # integers shuffle too
    np.testing.assert_array_equal(F.pixel_shuffle(mg.tensor(a), r).numpy(),
                                  TF.pixel_shuffle(torch.tensor(a), r).numpy())


def test_pixel_shuffle_errors():
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(mg.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=6 is not divisible by 4"):
        F.pixel_shuffle(mg.zeros(1, 6, 2, 2), 2)
    with pytest.raises(RuntimeError, match="positive upscale_factor"):
        F.pixel_shuffle(mg.zeros(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match="width to be divisible"):
        F.pixel_unshuffle(mg.zeros(1, 1, 4, 5), 2)


# ---------------------------------------------------------------- padding

PADS = [("ReflectionPad", "reflect"), ("ReplicationPad", "replicate"),
        ("CircularPad", "circular"), ("ZeroPad", "constant"), ("ConstantPad", "constant")]


@pytest.mark.parametrize("stem, mode", PADS)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_padding_modules_match_torch(stem, mode, n):
    args = (2.5,) if stem == "ConstantPad" else ()
    for padding in [1, (1, 3, 2, 0, 3, 1)[:2 * n], (2, -1) * n]:
        if isinstance(padding, tuple) and min(padding) < 0 and mode == "circular":
            continue  # (PyTorch checks circular widths against the cropped size)
        m = getattr(nn, f"{stem}{n}d")(padding, *args)
        t = getattr(tnn, f"{stem}{n}d")(padding, *args)
        same_repr(m, t)
        for batch in ((2, 3), (3,)):  # batched and unbatched
            compare_modules(m, t, R(*batch, *[4] * n))


def test_pad_follows_torchs_rules_for_non_constant_modes():
    x = mg.zeros(1, 2, 4, 5)
    with pytest.raises(NotImplementedError, match="padding size 2 is not supported for 4D"):
        F.pad(x, (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="padding size 4 is not supported for 2D"):
        F.pad(mg.zeros(4, 5), (1, 1, 1, 1), mode="replicate")
    with pytest.raises(ValueError, match="reflect padding"):
        F.pad(x, (1, 1, 4, 0), mode="reflect")
    for pad, mode in [((-1, 2, 1, -2), "replicate"), ((2, -1, 0, 3), "reflect")]:
        compare_fn(lambda a: F.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode),
                   R(1, 2, 4, 5))
    np.testing.assert_array_equal(F.pad(mg.arange(6).reshape(1, 2, 3), (1, 1), "reflect").numpy(),
                                  TF.pad(torch.arange(6).reshape(1, 2, 3), (1, 1),
                                         mode="reflect").numpy())


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("num, init, shape", [(1, 0.25, (2, 3, 4)), (3, 0.1, (2, 3, 4, 2)),
                                              (3, -0.5, (4, 3)), (1, 0.3, (5,))])
def test_prelu_matches_torch(num, init, shape):
    m, t = nn.PReLU(num, init), tnn.PReLU(num, init)
    same_repr(m, t)
    assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
    np.testing.assert_array_equal(m.weight.detach().numpy(), t.weight.detach().numpy())
    x = R(*shape)
    x.flat[:3] = 0.0  # PyTorch's gradient at 0: the weight for x, nothing for the weight
    compare_modules(m, t, x)
    assert nn.PReLU(dtype=mg.float64).weight.dtype == mg.float64


def test_prelu_errors():
    with pytest.raises(RuntimeError, match="Found parameter numbers = 4 and channel size = 1"):
        F.prelu(mg.zeros(4), mg.ones(4))
    with pytest.raises(RuntimeError, match="Found parameter numbers = 2 and channel size = 3"):
        F.prelu(mg.zeros(2, 3), mg.ones(2))
    with pytest.raises(RuntimeError, match="scalar or 1D tensor"):
        F.prelu(mg.zeros(2, 3), mg.ones(3, 1))


@pytest.mark.parametrize("name, args", [("relu_", ()), ("elu_", (0.7,)), ("celu_", (2.0,)),
                                        ("selu_", ()), ("leaky_relu_", (0.2,)),
                                        ("hardtanh_", (-0.5, 0.7)), ("threshold_", (0.1, -3.0))])
def test_inplace_functional_activations(name, args):
    x = R(3, 4)
    m, t = mg.tensor(x.copy()), torch.tensor(x.copy())
    assert getattr(F, name)(m, *args) is m
    getattr(TF, name)(t, *args)
    np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-15, atol=0)
    leaf = mg.tensor(x, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        getattr(F, name)(leaf, *args)
    # recorded on a graph tensor (celu's alpha is a power of 2: torch 2.13 rounds a float64
    # celu's 1/alpha to float32)
    compare_fn(lambda a: getattr(F, name)(a * 1.0, *args),
               lambda a: getattr(TF, name)(a * 1.0, *args), x)


def test_threshold_matches_torch():
    compare_fn(lambda a: F.threshold(a, 0.2, -1.5), lambda a: TF.threshold(a, 0.2, -1.5),
               R(3, 5))
    compare_modules(nn.Threshold(0.1, 20), tnn.Threshold(0.1, 20), R(2, 5))
    same_repr(nn.Threshold(0.1, 20), tnn.Threshold(0.1, 20))
    same_repr(nn.Threshold(0.1, 20, inplace=True), tnn.Threshold(0.1, 20, inplace=True))
    a = np.arange(-3, 4)
    np.testing.assert_array_equal(F.threshold(mg.tensor(a), 1, -9).numpy(),
                                  TF.threshold(torch.tensor(a), 1, -9).numpy())


# ---------------------------------------------------------------- pooling

@pytest.mark.parametrize("size, shape", [(3, (2, 3, 7)), (5, (3, 5)), (1, (2, 2, 4)),
                                         ((4,), (1, 2, 9))])
def test_adaptive_avg_pool1d_matches_torch(size, shape):
    compare_fn(lambda x: F.adaptive_avg_pool1d(x, size),
               lambda x: TF.adaptive_avg_pool1d(x, size), R(*shape))
    compare_modules(nn.AdaptiveAvgPool1d(size), tnn.AdaptiveAvgPool1d(size), R(*shape))
    same_repr(nn.AdaptiveAvgPool1d(size), tnn.AdaptiveAvgPool1d(size))
    with pytest.raises(ValueError, match="2-D .* or 3-D"):
        F.adaptive_avg_pool1d(mg.zeros(1, 1, 2, 2), 2)


# ---------------------------------------------------------------- similarity, distance, loss

@pytest.mark.parametrize("s1, s2, dim", [((3, 4), (3, 4), 1), ((2, 3, 4), (3, 4), -1),
                                         ((5,), (5,), 0), ((2, 3, 4), (2, 1, 4), 1)])
def test_cosine_similarity_matches_torch(s1, s2, dim):
    compare_fn(lambda a, b: F.cosine_similarity(a, b, dim),
               lambda a, b: TF.cosine_similarity(a, b, dim), R(*s1), R(*s2, seed=3))
    m, t = nn.CosineSimilarity(dim), tnn.CosineSimilarity(dim)
    same_repr(m, t)
    compare_fn(lambda a, b: m(a, b), lambda a, b: t(a, b), R(*s1), R(*s2, seed=3))


def test_cosine_similarity_at_tiny_and_zero_vectors():
    """Each norm is clamped to eps without the clamp reaching the gradient (PyTorch's
    rule), and a zero vector has a zero gradient, not NaN."""
    a = R(4, 3) * np.array([[1.0], [1e-9], [0.0], [1.0]])
    b = R(4, 3, seed=2) * np.array([[1.0], [1.0], [1.0], [1e-10]])
    compare_fn(lambda x, y: F.cosine_similarity(x, y), lambda x, y: TF.cosine_similarity(x, y),
               a, b)
    compare_fn(lambda x, y: F.cosine_similarity(x, y, eps=0.5),
               lambda x, y: TF.cosine_similarity(x, y, eps=0.5), a, b)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(p, keepdim):
    for s1, s2 in [((3, 4), (3, 4)), ((3, 4), (4,)), ((5,), (5,))]:
        compare_fn(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
                   lambda a, b: TF.pairwise_distance(a, b, p, keepdim=keepdim),
                   R(*s1), R(*s2, seed=2))
    m, t = nn.PairwiseDistance(p, keepdim=keepdim), tnn.PairwiseDistance(p, keepdim=keepdim)
    same_repr(m, t)
    compare_fn(lambda a, b: m(a, b), lambda a, b: t(a, b), R(3, 4), R(3, 4, seed=2))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    for target in ([1, -1, 1, -1, -1], [1.0, -1.0, 0.0, 1.0, -1.0]):
        compare_fn(lambda a, b: F.cosine_embedding_loss(a, b, mg.tensor(target), margin,
                                                        reduction=reduction),
                   lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(target), margin,
                                                         reduction=reduction),
                   R(5, 3), R(5, 3, seed=2))
    compare_fn(lambda a, b: F.cosine_embedding_loss(a, b, mg.tensor(-1), margin,
                                                    reduction=reduction),
               lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(-1), margin,
                                                     reduction=reduction),
               R(4), R(4, seed=2))
    m = nn.CosineEmbeddingLoss(margin, reduction=reduction)
    t = tnn.CosineEmbeddingLoss(margin, reduction=reduction)
    same_repr(m, t)
    y = [1, -1, -1]
    compare_fn(lambda a, b: m(a, b, mg.tensor(y)), lambda a, b: t(a, b, torch.tensor(y)),
               R(3, 2), R(3, 2, seed=2))


def test_cosine_embedding_loss_errors():
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(mg.zeros(3), mg.zeros(3), mg.tensor([1, 1, 1]))
    with pytest.raises(RuntimeError, match="0D target tensor expects 1D input tensors"):
        F.cosine_embedding_loss(mg.zeros(2, 3), mg.zeros(2, 3), mg.tensor(1))
    with pytest.raises(RuntimeError, match="multi-target not supported"):
        F.cosine_embedding_loss(mg.zeros(2, 3), mg.zeros(2, 3), mg.ones(2, 1))
    with pytest.raises(ValueError, match="reduction"):
        F.cosine_embedding_loss(mg.zeros(2, 3), mg.zeros(2, 3), mg.tensor([1, 1]), reduction="x")


# ---------------------------------------------------------------- bags and one-hot

BAGS = [dict(input=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 3, 3, 5]),
        dict(input=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 3, 8], include_last_offset=True),
        dict(input=[[1, 2, 4, 4], [4, 3, 2, 9], [0, 0, 0, 0]]),
        dict(input=[4, 4, 2], offsets=[0, 2, 3])]


@pytest.mark.parametrize("cfg", BAGS)
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_matches_torch(cfg, mode, padding_idx):
    idx = np.array(cfg["input"])
    off = cfg.get("offsets")
    weight = R(10, 3)
    weight[4, 0] = weight[2, 0] = 5.0  # (a tie between rows in 'max')
    kw = dict(mode=mode, padding_idx=padding_idx,
              include_last_offset=cfg.get("include_last_offset", False))
    compare_fn(lambda w: F.embedding_bag(mg.tensor(idx), w,
                                         None if off is None else mg.tensor(off), **kw),
               lambda w: TF.embedding_bag(torch.tensor(idx), w,
                                          None if off is None else torch.tensor(off), **kw),
               weight)
    if mode == "sum":  # per-sample weights: gradients for both
        compare_fn(lambda w, s: F.embedding_bag(mg.tensor(idx), w,
                                                None if off is None else mg.tensor(off),
                                                per_sample_weights=s, **kw),
                   lambda w, s: TF.embedding_bag(torch.tensor(idx), w,
                                                 None if off is None else torch.tensor(off),
                                                 per_sample_weights=s, **kw),
                   weight, R(*idx.shape, seed=4))


def test_embedding_bag_module_matches_torch():
    for kwargs in [dict(), dict(mode="sum", padding_idx=2), dict(mode="max", padding_idx=-1),
                   dict(mode="sum", include_last_offset=True)]:
        m, t = nn.EmbeddingBag(10, 3, **kwargs), tnn.EmbeddingBag(10, 3, **kwargs)
        same_repr(m, t)
        assert list(m.state_dict()) == list(t.state_dict()) == ["weight"]
        if m.padding_idx is not None:
            assert m.padding_idx == t.padding_idx
            assert not m.weight.detach().numpy()[m.padding_idx].any()
        m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
        m, t = m.double(), t.double()
        idx = [1, 2, 4, 5, 4, 3, 2, 9]
        off = [0, 2, 2, 8] if m.include_last_offset else [0, 2, 2, 5]
        my, ty = m(mg.tensor(idx), mg.tensor(off)), t(torch.tensor(idx), torch.tensor(off))
        np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-14)
        g = R(*ty.shape, seed=5)
        (my * mg.tensor(g)).sum().backward()
        (ty * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-14)
    w = R(10, 3)
    given = nn.EmbeddingBag(10, 3, _weight=mg.tensor(w), mode="sum")
    np.testing.assert_array_equal(given.weight.detach().numpy(), w)
    with pytest.raises(ValueError, match="does not match"):
        nn.EmbeddingBag(10, 4, _weight=mg.tensor(w))


def test_embedding_bag_errors():
    w, idx = mg.tensor(R(10, 3)), mg.tensor([1, 2, 4])
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(idx, w, mg.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(idx, w, mg.tensor([0]), per_sample_weights=mg.ones(3).double())
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(mg.tensor([[1, 2]]), w, mg.tensor([0]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(idx, w)
    with pytest.raises(RuntimeError, match="Long, Int"):
        F.embedding_bag(mg.tensor([1.0]), w, mg.tensor([0]))
    with pytest.raises(IndexError, match=r"index 40 is not in the valid range \[0, 10\)"):
        F.embedding_bag(mg.tensor([1, 40]), w, mg.tensor([0]))
    with pytest.raises(RuntimeError, match="can not be greater than input's length 3"):
        F.embedding_bag(idx, w, mg.tensor([0, 5]))
    with pytest.raises(ValueError, match="must be the input's length 3"):
        F.embedding_bag(idx, w, mg.tensor([0, 2]), include_last_offset=True)
    with pytest.raises(RuntimeError, match="non-decreasing"):
        F.embedding_bag(idx, w, mg.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(idx, w, mg.tensor([0]), mode="foo")
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.EmbeddingBag(10, 3, max_norm=1.0)
    with pytest.raises(ValueError, match="padding_idx must be within"):
        nn.EmbeddingBag(10, 3, padding_idx=10)


def test_one_hot_matches_torch():
    for a, n in [([0, 2, 1], -1), ([[0, 2], [3, 1]], 5), ([], 3), (4, -1)]:
        y = F.one_hot(mg.tensor(np.array(a, dtype=np.int64)), n)
        ty = TF.one_hot(torch.tensor(np.array(a, dtype=np.int64)), n)
        assert y.dtype == mg.int64 and tuple(y.shape) == tuple(ty.shape)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    for bad, n, message in [([0, 2.0], -1, "LongTensor"), ([-1, 2], -1, "non-negative"),
                            ([0, 5], 3, "smaller than num_classes"),
                            (np.array([], np.int64), -1, "empty tensor")]:
        with pytest.raises(RuntimeError, match=message):
            F.one_hot(mg.tensor(bad), n)
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(mg.tensor([0, 1]).int())


# ---------------------------------------------------------------- affine_grid, grid_sample

@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 2, 3, 4, 2)])
def test_affine_grid_matches_torch(align, size):
    k = len(size) - 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the unit-size warning, checked below)
        compare_fn(lambda th: F.affine_grid(th, size, align_corners=align),
                   lambda th: TF.affine_grid(th, size, align_corners=align), R(2, k, k + 1))


def test_affine_grid_warnings_and_errors():
    theta = mg.tensor(R(1, 2, 3))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.affine_grid(theta, (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="unit-size grids"):
        F.affine_grid(theta, (1, 1, 1, 2), align_corners=True)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(mg.tensor(R(1, 3, 4)), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(NotImplementedError, match="4D and 5D"):
        F.affine_grid(theta, (1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="floating point"):
        F.affine_grid(mg.ones(1, 2, 3).long(), (1, 1, 2, 2), align_corners=False)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_matches_torch(mode, padding_mode, align):
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align)
    x = R(2, 3, 4, 5)
    grid = np.random.default_rng(7).uniform(-1.6, 1.6, (2, 6, 7, 2))
    grid[0, 0, :3] = [[-1.0, 1.0], [0.25, -0.25], [1.0, -1.0]]  # corners and half steps
    if mode == "bilinear":
        compare_fn(lambda a, g: F.grid_sample(a, g, **kw), lambda a, g: TF.grid_sample(a, g, **kw),
                   x, grid)
    else:  # (no gradient for the grid; the input's)
        compare_fn(lambda a: F.grid_sample(a, mg.tensor(grid), **kw),
                   lambda a: TF.grid_sample(a, torch.tensor(grid), **kw), x)


def test_grid_sample_with_affine_grid_rotates_like_torch():
    x = R(1, 2, 6, 6)
    c, s = np.cos(0.3), np.sin(0.3)
    theta = np.array([[[c, -s, 0.1], [s, c, -0.2]]])
    compare_fn(lambda a, th: F.grid_sample(a, F.affine_grid(th, (1, 2, 6, 6), False),
                                           align_corners=False),
               lambda a, th: TF.grid_sample(a, TF.affine_grid(th, (1, 2, 6, 6), False),
                                            align_corners=False), x, theta)


def test_grid_sample_errors_and_warning():
    x, g = mg.zeros(1, 1, 3, 3).double(), mg.zeros(1, 2, 2, 2).double()
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, g)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic'"):
        F.grid_sample(x, g, mode="linear", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(x, g, mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match="same floating point dtype"):
        F.grid_sample(x, g.float(), align_corners=False)
    with pytest.raises(RuntimeError, match="grid of shape"):
        F.grid_sample(x, mg.zeros(1, 2, 2, 3).double(), align_corners=False)


# ---------------------------------------------------------------- nn.init

def test_orthogonal_init():
    for shape, gain in [((4, 6), 1.0), ((6, 4), 2.0), ((6, 2, 3), 1.0), ((3, 3), 0.5)]:
        w = nn.init.orthogonal_(mg.empty(*shape, dtype=mg.float64), gain)
        a = w.numpy().reshape(shape[0], -1)
        small = min(a.shape)
        gram = a @ a.T if a.shape[0] == small else a.T @ a
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-12)
    g = mg.Generator().manual_seed(3)
    a = nn.init.orthogonal_(mg.empty(3, 3), generator=g).numpy()
    b = nn.init.orthogonal_(mg.empty(3, 3), generator=mg.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(a, b)
    assert nn.init.orthogonal_(mg.empty(0, 3)).shape == (0, 3)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(mg.empty(3))


def test_trunc_normal_init():
    from scipy import stats
    for mean, std, a, b in [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.0), (0.0, 0.02, -0.04, 0.04),
                            (2.0, 1.0, 0.0, 0.5)]:
        w = nn.init.trunc_normal_(mg.empty(40000, dtype=mg.float64), mean, std, a, b).numpy()
        assert w.min() >= a and w.max() <= b
        dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
        # (a Kolmogorov-Smirnov test: the draws follow the truncated normal)
        assert stats.kstest(w, dist.cdf).pvalue > 1e-4
    w = nn.init.trunc_normal_(mg.empty(1000), a=-0.1, b=0.1)
    assert w.dtype == mg.float32 and w.numpy().min() >= -0.1 and w.numpy().max() <= 0.1
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        nn.init.trunc_normal_(mg.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("call", [lambda lib: lib.nn.init.trunc_normal_(lib.zeros(3, dtype=lib.int64)),
                                  lambda lib: lib.nn.init.trunc_normal_(lib.zeros(3), a=2.0, b=-2.0),
                                  lambda lib: lib.nn.init.normal_(lib.zeros(3, dtype=lib.int32)),
                                  lambda lib: lib.nn.init.uniform_(lib.zeros(3, dtype=lib.bool)),
                                  lambda lib: lib.nn.init.uniform_(lib.zeros(3), 1.0, 0.0)])
def test_random_init_refuses_what_torch_refuses(call):
    """Integer tensors and reversed ranges are errors, not silently truncated draws."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(mg)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("old", ["uniform", "normal", "constant", "xavier_uniform",
                                 "xavier_normal", "kaiming_uniform", "kaiming_normal",
                                 "orthogonal"])
def test_deprecated_init_names_warn_like_torch(old):
    args = (0.5,) if old == "constant" else ()
    t = torch.empty(3, 4)
    with pytest.warns(FutureWarning) as torch_warning:
        getattr(tnn.init, old)(t, *args)
    w = mg.empty(3, 4)
    with pytest.warns(FutureWarning) as ours:
        out = getattr(nn.init, old)(w, *args)
    assert str(ours[0].message) == str(torch_warning[0].message)
    assert out is w and ours[0].filename == __file__  # (the caller's line, stacklevel=2)
    mg.manual_seed(0)
    expected = getattr(nn.init, old + "_")(mg.empty(3, 4), *args).numpy()
    mg.manual_seed(0)
    with pytest.warns(FutureWarning):
        np.testing.assert_array_equal(getattr(nn.init, old)(mg.empty(3, 4), *args).numpy(),
                                      expected)
