"""mg.testing.assert_close against torch.testing.assert_close: the same inputs in each
library pass or fail alike, with the same exception type and, for values, the same
message (mismatched elements, greatest absolute and relative differences and where)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import assert_close

NAN, INF = float("nan"), float("inf")


def _outcome(fn):
    try:
        fn()
    except Exception as e:   # noqa: BLE001
        return type(e), str(e)
    return None, None


def _both(torch, actual, expected, exact_message=True, **kwargs):
    """Run both assert_close on the same data converted to each library; compare."""
    def convert(lib, v):
        if isinstance(v, np.ndarray):
            return lib.tensor(v) if lib is mg else torch.from_numpy(v.copy())
        if isinstance(v, (list, tuple)):
            return type(v)(convert(lib, x) for x in v)
        if isinstance(v, dict):
            return {k: convert(lib, x) for k, x in v.items()}
        return v
    ours = _outcome(lambda: assert_close(convert(mg, actual), convert(mg, expected), **kwargs))
    theirs = _outcome(lambda: torch.testing.assert_close(convert(torch, actual),
                                                         convert(torch, expected), **kwargs))
    assert ours[0] is theirs[0], (ours, theirs)
    if exact_message:
        assert ours[1] == theirs[1]
    return ours


F32 = np.float32
CASES = {
    "float32 close": (np.array([1.0, 2.0, 3.0], F32), np.array([1.0, 2.00001, 3.0], F32), {}),
    "float32 not close": (np.array([1.0, 2.5, 3.0], F32), np.array([1.0, 2.0, 3.1], F32), {}),
    "float64 within default": (np.array([1.0 + 1e-8, 2.0]), np.array([1.0, 2.0]), {}),
    "float64 beyond default": (np.array([1.0 + 1e-6, 2.0, 0.0]), np.array([1.0, 2.0, 1e-9]), {}),
    "float16": (np.array([1.0, 2.0], np.float16), np.array([1.001, 2.01], np.float16), {}),
    "given tolerances": (np.array([1.0, 2.0]), np.array([1.05, 2.0]), dict(rtol=0.1, atol=0.0)),
    "given tolerances fail": (np.array([1.0, 2.0]), np.array([1.5, 2.2]),
                              dict(rtol=0.1, atol=1e-3)),
    "equality": (np.array([1.0, 2.0]), np.array([1.0, 2.5]), dict(rtol=0.0, atol=0.0)),
    "only rtol": (np.array([1.0]), np.array([1.0]), dict(rtol=0.1)),
    "only atol": (np.array([1.0]), np.array([1.0]), dict(atol=0.1)),
    "nan": (np.array([NAN, 1.0]), np.array([NAN, 1.0]), {}),
    "nan equal_nan": (np.array([NAN, 1.0]), np.array([NAN, 1.0]), dict(equal_nan=True)),
    "nan vs number": (np.array([NAN, 1.0]), np.array([0.0, 1.0]), dict(equal_nan=True)),
    "inf": (np.array([INF, -INF]), np.array([INF, -INF]), {}),
    "inf signs": (np.array([INF, 1.0]), np.array([-INF, 1.0]), {}),
    "inf vs large": (np.array([INF, 1.0]), np.array([1e308, 1.0]), {}),
    "expected zero": (np.array([0.5, 1.0]), np.array([0.0, 1.0]), {}),
    "int64": (np.array([1, 5, 7]), np.array([1, 2, 4]), {}),
    "int64 equal": (np.array([1, 5, 7]), np.array([1, 5, 7]), {}),
    "int64 with tolerance": (np.array([100, 5]), np.array([101, 5]), dict(rtol=0.05, atol=0)),
    "int32 relative in float32": (np.array([1, 10], np.int32), np.array([3, 10], np.int32), {}),
    "bool": (np.array([True, False, True]), np.array([True, True, True]), {}),
    "2-d index": (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3) * [1, 1, 1.5], {}),
    "0-d": (np.array(1.5), np.array(1.0), {}),
    "0-d int": (np.array(3), np.array(1), {}),
    "shape": (np.zeros(2), np.zeros(3), {}),
    "dtype": (np.zeros(2, F32), np.zeros(2), {}),
    "dtype unchecked": (np.array([1.0, 2.0], F32), np.array([1.0, 2.0]), dict(check_dtype=False)),
    "dtype unchecked differ": (np.array([1.0, 2.0], F32), np.array([1.0, 2.1]),
                               dict(check_dtype=False)),
    "int vs float unchecked": (np.array([1, 2]), np.array([1.0, 2.0], F32),
                               dict(check_dtype=False)),
    "python floats": (1.0, 1.5, {}),
    "python floats close": (1.0, 1.0 + 1e-9, {}),
    "python zero": (1e-3, 0.0, {}),
    "int vs float": (1, 1.0, {}),
    "int vs float unchecked scalars": (1, 1.0, dict(check_dtype=False)),
    "numpy scalar": (np.float32(1.0), 1.0, dict(check_dtype=False)),
    "bools": (True, False, {}),
    "none": (None, None, {}),
    "none vs value": (None, 1.0, {}),
    "sequence": ([np.array([1.0]), np.array([2.0])], [np.array([1.0]), np.array([2.5])], {}),
    "sequence lengths": ([np.array([1.0])], [np.array([1.0]), np.array([2.0])], {}),
    "nested": ((1.0, [2.0, (3.0, 4.0)]), (1.0, [2.0, (3.0, 4.5)]), {}),
    "mapping": ({"a": np.array([1.0]), "b": np.array([2.0])},
                {"a": np.array([1.0]), "b": np.array([3.0])}, {}),
    "mapping keys": ({"a": 1.0, "c": 2.0}, {"a": 1.0, "b": 2.0}, {}),
    "msg": (np.array([1.0]), np.array([2.0]), dict(msg="custom")),
    "msg callable": (np.array([1.0]), np.array([2.0]), dict(msg=lambda m: f"Header\n\n{m}\n!")),
    "msg and item": ([1.0, 2.0], [1.0, 3.0], dict(msg=lambda m: m.upper())),
    "type": (np.array([1.0]), "1.0", {}),
    "strings": ("a", "a", {}),
}
ATTRIBUTE_CASES = {"shape", "dtype", "strings", "type"}   # (messages name each library's types)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(torch, name):
    actual, expected, kwargs = CASES[name]
    _both(torch, actual, expected, exact_message=name not in ATTRIBUTE_CASES, **kwargs)


def test_message_lists_the_mismatches():
    with pytest.raises(AssertionError) as e:
        assert_close(mg.tensor([1.0, 2.0, 3.0]), mg.tensor([1.0, 4.0, 3.5]))
    assert str(e.value) == (
        "Tensor-likes are not close!\n\n"
        "Mismatched elements: 2 / 3 (66.7%)\n"
        "Greatest absolute difference: 2.0 at index (1,) (up to 1e-05 allowed)\n"
        "Greatest relative difference: 0.5 at index (1,) (up to 1.3e-06 allowed)")


def test_attribute_messages():
    for a, e, kwargs, message in [
            (mg.zeros(2), mg.zeros(3), {}, "The values for attribute 'shape' do not match: "
                                           "(2,) != (3,)."),
            (mg.zeros(2), mg.zeros(2, dtype=mg.float64), {},
             "The values for attribute 'dtype' do not match: "),
            (mg.tensor(np.arange(6.0).reshape(2, 3)).T,
             mg.tensor(np.ascontiguousarray(np.arange(6.0).reshape(2, 3).T)),
             dict(check_stride=True), "The values for attribute 'stride()' do not match: "
                                      "(1, 3) != (2, 1).")]:
        with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
            assert_close(a, e, **kwargs)
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert_close(x.T, mg.tensor(np.ascontiguousarray(x.numpy().T)))   # (strides unchecked)
    with pytest.raises(TypeError, match="No comparison pair was able to handle inputs"):
        assert_close(mg.zeros(2), np.zeros(2))      # (a Tensor and an array: as in torch)


def test_parameters_and_grad_tensors():
    p = mg.nn.Parameter(mg.ones(3).array)
    assert_close(p, mg.ones(3))
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(p, mg.ones(3), allow_subclasses=False)
    y = (mg.ones(3, requires_grad=True) * 2)
    assert_close(y, mg.full((3,), 2.0))


def test_on_a_device(device):
    a = mg.tensor([1.0, 2.0], device=device)
    assert_close(a, mg.tensor([1.0, 2.0], device=device))
    with pytest.raises(AssertionError, match="attribute 'device' do not match"):
        assert_close(a, mg.tensor([1.0, 2.0]))
    assert_close(a, mg.tensor([1.0, 2.0]), check_device=False)
    with pytest.raises(AssertionError, match="Greatest absolute difference: 0.5"):
        assert_close(a, mg.tensor([1.0, 2.5]), check_device=False)
