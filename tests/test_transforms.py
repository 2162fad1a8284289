"""minigrad.data.transforms against torchvision's semantics. torchvision is not installed
(and must not be): the values are pinned by hand and by the torch tensor arithmetic that
torchvision's ToTensor and Normalize perform."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.data import transforms as T

IMAGE = np.array([[0, 255, 51], [128, 1, 254]], dtype=np.uint8)


def test_to_tensor_scales_uint8_by_division():
    out = T.ToTensor()(IMAGE)
    assert out.shape == (1, 2, 3) and out.dtype == mg.float32
    by_hand = np.array([[[0.0, 1.0, 0.2], [128 / 255, 1 / 255, 254 / 255]]], np.float32)
    np.testing.assert_array_equal(out.numpy(), by_hand)    # float32 division, exactly
    rgb = np.stack([IMAGE, 255 - IMAGE, IMAGE // 2], axis=-1)          # H x W x C
    out = T.ToTensor()(rgb)
    assert out.shape == (3, 2, 3)
    np.testing.assert_array_equal(out.numpy()[1], (255 - IMAGE) / np.float32(255))


def test_to_tensor_matches_torch_arithmetic(torch):
    for pic in (IMAGE, np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)):
        chw = pic[:, :, None] if pic.ndim == 2 else pic
        want = torch.from_numpy(chw.transpose(2, 0, 1).copy()).to(torch.float32).div(255)
        np.testing.assert_array_equal(T.ToTensor()(pic).numpy(), want.numpy())


def test_to_tensor_keeps_other_dtypes():
    f = np.array([[0.5, 2.0], [-1.0, 300.0]])
    out = T.ToTensor()(f)
    assert out.dtype == mg.float64 and out.numpy().tolist() == [[[0.5, 2.0], [-1.0, 300.0]]]
    i = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    out = T.ToTensor()(i)
    assert out.dtype == mg.int32 and out.shape == (3, 2, 2)
    np.testing.assert_array_equal(out.numpy(), i.transpose(2, 0, 1))


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(mg.zeros(2, 2))
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([[1, 2]])
    for bad in (np.zeros(3, np.uint8), np.zeros((1, 2, 2, 3), np.uint8)):
        with pytest.raises(ValueError, match=f"pic should be 2/3 dimensional. Got "
                                             f"{bad.ndim} dimensions."):
            T.ToTensor()(bad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normalize_matches_torch_arithmetic(torch, dtype):
    x = np.random.default_rng(1).random((3, 4, 5)).astype(dtype)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    t = torch.from_numpy(x.copy())
    want = t.clone().sub_(torch.as_tensor(mean, dtype=t.dtype).view(-1, 1, 1)).div_(
        torch.as_tensor(std, dtype=t.dtype).view(-1, 1, 1))
    ours = mg.tensor(x)
    out = T.Normalize(mean, std)(ours)
    assert out.dtype == ours.dtype
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    np.testing.assert_array_equal(ours.numpy(), x)                   # not in place
    batch = mg.tensor(np.stack([x, x]))                               # (..., C, H, W)
    np.testing.assert_array_equal(T.Normalize(mean, std)(batch).numpy()[1], want.numpy())
    inplace = mg.tensor(x.copy())
    assert T.Normalize(mean, std, inplace=True)(inplace) is inplace
    np.testing.assert_array_equal(inplace.numpy(), want.numpy())


def test_normalize_mnist_by_hand():
    out = T.Normalize((0.1307,), (0.3081,))(T.ToTensor()(IMAGE))
    by_hand = (IMAGE / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(out.numpy()[0], by_hand)
    assert float(out.numpy()[0, 0, 0]) == pytest.approx(-0.1307 / 0.3081, rel=1e-6)


def test_normalize_errors(torch):
    n = T.Normalize((0.5,), (0.5,))
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        n(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(TypeError, match="Input tensor should be a float tensor. Got "
                                        "minigrad.int64"):
        n(mg.zeros(1, 2, 2, dtype=mg.int64))
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size "
                                         r"\(\.\.\., C, H, W\)"):
        n(mg.zeros(2, 2))
    with pytest.raises(TypeError, match="Tensor is not a torch image"):
        n(mg.zeros(2))
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to "
                                         "minigrad.float32"):
        T.Normalize((0.5,), (0.0,))(mg.zeros(1, 2, 2))
    with pytest.raises(RuntimeError, match="std evaluated to zero"):   # torchvision's kind
        T.Normalize((0.5,), (1e-50,))(mg.zeros(1, 2, 2))              # (zero in float32)
    with pytest.raises(RuntimeError):
        torch.zeros(1, 2, 2).clone().sub_(torch.tensor([0.1, 0.2, 0.3]).view(-1, 1, 1))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        T.Normalize((0.1, 0.2, 0.3), (1.0, 1.0, 1.0))(mg.zeros(1, 2, 2))


def test_lambda_and_compose():
    twice = T.Lambda(lambda x: x * 2)
    assert twice(3) == 6 and repr(twice) == "Lambda()"
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    pipeline = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,)),
                          T.Lambda(lambda x: x.flatten())])
    assert pipeline(IMAGE).shape == (6,)
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])) == \
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)"
    assert T.Compose([])(IMAGE) is IMAGE


def test_batched_transforms_give_the_same_bits_as_image_by_image():
    images = np.random.default_rng(2).integers(0, 256, (7, 6, 5), dtype=np.uint8)
    for transform in (T.ToTensor(),
                      T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
                      T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,), True)])):
        step = T.batched(transform, image_ndim=2)
        one_by_one = np.stack([transform(im.copy()).numpy() for im in images])
        np.testing.assert_array_equal(step(images).numpy(), one_by_one)

    class MyToTensor(T.ToTensor):
        pass
    for transform in (T.Lambda(lambda x: x), MyToTensor(), T.Compose([T.ToTensor(),
                                                                      T.Lambda(abs)])):
        assert T.batched(transform, image_ndim=2) is None
