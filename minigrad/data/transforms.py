"""Image transforms with torchvision's semantics: ``Compose``, ``ToTensor``, ``Normalize``,
``Lambda`` (``torchvision.transforms``; torchvision itself is not needed).

minigrad has no PIL: where torchvision hands a transform a PIL image, minigrad's datasets
hand it the image as a NumPy array (``uint8``, ``(H, W)`` for MNIST), which ``ToTensor``
accepts exactly as torchvision's accepts an ndarray.

``batched(transform)`` (+) gives, for the transforms above, a function that applies a
transform to a whole stack of images at once with the same arithmetic, so its result is
bit for bit the stack of the per-image results; MNIST uses it to keep its one-index batch
fetch with the usual ``Compose([ToTensor(), Normalize(...)])``.
"""
import numpy as np

from minigrad import dtypes
from minigrad.errors import InvalidArgument
from minigrad.tensor import Tensor


class Compose:
    """Apply ``transforms`` one after another."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class ToTensor:
    """An ``(H, W)`` or ``(H, W, C)`` NumPy image -> a ``(C, H, W)`` Tensor. ``uint8``
    images become float32 scaled to [0, 1] (divided by 255); any other dtype keeps its
    dtype and values, only moved to channels-first (torchvision's rule for ndarrays)."""

    def __call__(self, pic):
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)} "
                            f"(minigrad has no PIL: ToTensor takes a NumPy array)")
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        return _to_tensor(pic, pic.ndim)

    def __repr__(self):
        return f"{type(self).__name__}()"


def _to_tensor(pics, image_ndim):
    """ToTensor on the trailing ``image_ndim`` (2 or 3) axes of ``pics``."""
    if image_ndim == 2:
        pics = pics[..., None]
    chw = np.moveaxis(pics, -1, -3)
    if pics.dtype == np.uint8:
        return Tensor(chw.astype(dtypes.default_float.np) / dtypes.default_float.np.type(255))
    return Tensor(np.ascontiguousarray(chw))


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel c of a float ``(..., C, H, W)`` tensor,
    with ``mean`` and ``std`` first converted to the tensor's dtype (torchvision's
    arithmetic, so the results agree bit for bit). A new tensor unless ``inplace``."""

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
        return _normalize(tensor, self.mean, self.std, self.inplace, image_ndim=3)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def _normalize(tensor, mean, std, inplace, image_ndim):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if tensor.ndim < image_ndim - 1:
        raise TypeError("Tensor is not a torch image.")
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < image_ndim:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype.np
    mean = np.asarray(mean.numpy() if isinstance(mean, Tensor) else mean, dtype=dtype)
    std = np.asarray(std.numpy() if isinstance(std, Tensor) else std, dtype=dtype)
    if (std == 0).any():
        raise InvalidArgument(f"std evaluated to zero after conversion to "
                              f"{tensor.dtype}, leading to division by zero.")
    if mean.ndim == 1:
        mean = mean.reshape(-1, 1, 1)
    if std.ndim == 1:
        std = std.reshape(-1, 1, 1)
    device = tensor.device
    return tensor.sub_(Tensor(mean).to(device)).div_(Tensor(std).to(device))


class Lambda:
    """Apply a user function ``lambd``."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got "
                            f"{repr(type(lambd).__name__)}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


def batched(transform, image_ndim):
    """(+) A function from a stack of images (NumPy, images of ``image_ndim`` axes on a
    leading batch axis) to the stack of ``transform``'s results, computed at once with the
    same arithmetic; None where minigrad knows none (Lambda, user classes, subclasses)."""
    kind = type(transform)
    if kind is ToTensor:
        if image_ndim not in (2, 3):
            return None
        return lambda pics: _to_tensor(pics, image_ndim)
    if kind is Normalize:
        return lambda x: _normalize(x, transform.mean, transform.std, transform.inplace,
                                    image_ndim=4)
    if kind is Compose:
        steps = [batched(t, image_ndim) for t in transform.transforms]
        if any(s is None for s in steps) or not steps:
            return None

        def run(x):
            for step in steps:
                x = step(x)
            return x
        return run
    return None
