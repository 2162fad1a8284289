"""Checkpoints that travel: mg.save / mg.load of a ".safetensors" name, read and written by
PyTorch's safetensors.torch; the flat-dict rule, the missing-package error, atomic
writes, and the warning for ".pt"/".pth" names."""
import os
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn

pytest.importorskip("safetensors")


def _models(torch):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU(), torch.nn.Flatten(),
                             torch.nn.Linear(4 * 5 * 5, 3)).double()
    mm = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                       nn.Flatten(), nn.Linear(4 * 5 * 5, 3)).double()
    return mm, tm


def _train_bn(lib, model, x):
    model.train()
    model(x)            # (running statistics and num_batches_tracked move)
    model.eval()


def test_a_torch_checkpoint_loads_into_the_same_minigrad_model(torch, tmp_path):
    from safetensors.torch import save_file
    mm, tm = _models(torch)
    x = np.random.default_rng(0).standard_normal((6, 2, 5, 5))
    _train_bn(torch, tm, torch.tensor(x))
    save_file(tm.state_dict(), tmp_path / "torch.safetensors")
    loaded = mg.load(tmp_path / "torch.safetensors")
    assert set(loaded) == set(tm.state_dict())
    assert all(isinstance(v, mg.Tensor) for v in loaded.values())
    assert loaded["1.num_batches_tracked"].dtype == mg.int64
    mm.load_state_dict(loaded)
    mm.eval()
    np.testing.assert_allclose(mm(mg.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-13)


def test_a_minigrad_checkpoint_loads_into_torch(torch, tmp_path):
    from safetensors.torch import load_file
    mm, tm = _models(torch)
    x = np.random.default_rng(1).standard_normal((6, 2, 5, 5))
    _train_bn(mg, mm, mg.tensor(x))
    mg.save(mm.state_dict(), tmp_path / "mg.safetensors")
    tensors = load_file(tmp_path / "mg.safetensors")
    for key, value in mm.state_dict().items():
        assert str(tensors[key].dtype).split(".")[1] == str(value.dtype).split(".")[1]
        np.testing.assert_array_equal(tensors[key].numpy(), value.numpy())
    tm.load_state_dict(tensors)
    tm.eval()
    np.testing.assert_allclose(tm(torch.tensor(x)).detach().numpy(),
                               mm(mg.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-13)


def test_round_trip_keeps_dtypes_shapes_and_values(tmp_path):
    rng = np.random.default_rng(2)
    sd = {"f32": mg.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
          "f64": mg.tensor(rng.standard_normal(5)),
          "f16": mg.tensor(np.array([1.5, -2.25], np.float16)),
          "i64": mg.tensor(np.arange(4)),
          "u8": mg.tensor(np.array([0, 255], np.uint8)),
          "bool": mg.tensor(np.array([True, False])),
          "scalar": mg.tensor(np.array(3.5)),
          "empty": mg.zeros(0, 3),
          "transposed": mg.tensor(np.arange(12.0).reshape(3, 4)).T,   # (not contiguous)
          "array": np.arange(3, dtype=np.int32)}
    mg.save(sd, tmp_path / "all.safetensors")
    back = mg.load(tmp_path / "all.safetensors")
    assert set(back) == set(sd)
    for key, value in sd.items():
        want = value if isinstance(value, np.ndarray) else value.numpy()
        got = back[key].numpy()
        assert got.dtype == want.dtype and got.shape == want.shape, key
        np.testing.assert_array_equal(got, want)
    back["f64"].add_(1.0)   # (loaded tensors are writable)


def test_a_state_dict_on_a_device_saves_to_the_host(device, tmp_path):
    m = nn.Linear(3, 2).to(device)
    mg.save(m.state_dict(), tmp_path / "d.safetensors")
    back = mg.load(tmp_path / "d.safetensors")
    np.testing.assert_array_equal(back["weight"].numpy(), m.weight.detach().cpu().numpy())
    assert back["weight"].device == mg.device("cpu")


@pytest.mark.parametrize("obj,message", [
    ({"opt": {"state": {}, "param_groups": []}}, "nested containers"),
    ({"w": mg.ones(2), "epoch": 3}, "'epoch' is a int"),
    ({"w": [mg.ones(2)]}, "'w' is a list"),
    ({1: mg.ones(2)}, "names must be strings"),
    ([mg.ones(2)], "flat dict of named tensors"),
    ({"z": np.array([1 + 2j])}, "cannot store"),
])
def test_only_flat_dicts_of_tensors(tmp_path, obj, message):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=message):
        mg.save(obj, path)
    assert list(tmp_path.iterdir()) == []


def test_the_missing_package_names_the_extra(tmp_path, monkeypatch):
    mg.save({"w": mg.ones(2)}, tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    for call in (lambda: mg.save({"w": mg.ones(2)}, tmp_path / "v.safetensors"),
                 lambda: mg.load(tmp_path / "w.safetensors")):
        with pytest.raises(ImportError, match=r"pip install 'minigrad\[safetensors\]'"):
            call()
    mg.save({"w": mg.ones(2)}, tmp_path / "w.npz")   # (the .npz format needs nothing)


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    mg.save({"v": mg.ones(3)}, path)
    before = path.read_bytes()
    from minigrad import _atomic
    real_open = _atomic.atomic_open

    class Killed(BaseException):
        pass

    def crashing_open(p):
        cm = real_open(p)

        class Wrapper:
            def __enter__(self):
                self.f = cm.__enter__()
                return self

            def write(self, data):   # (killed after writing a little)
                self.f.write(data[:10])
                raise Killed()

            def __exit__(self, *exc):
                return cm.__exit__(*exc)
        return Wrapper()

    monkeypatch.setattr("minigrad.serialization.atomic_open", crashing_open)
    with pytest.raises(Killed):
        mg.save({"v": mg.zeros(1000)}, path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["c.safetensors"]
    assert mg.load(path)["v"].tolist() == [1.0, 1.0, 1.0]
    # a truncated file is the documented error
    path.write_bytes(before[: len(before) // 2])
    with pytest.raises(RuntimeError, match="not a complete safetensors file"):
        mg.load(path)
    path.write_bytes(b"abc")
    with pytest.raises(RuntimeError, match="not a complete safetensors file"):
        mg.load(path)


def test_bfloat16_is_named(torch, tmp_path):
    from safetensors.torch import save_file
    save_file({"a": torch.zeros(2), "h": torch.ones(2, dtype=torch.bfloat16)},
              tmp_path / "bf.safetensors")
    with pytest.raises(TypeError, match=r"h \(BF16\).*v.float\(\)"):
        mg.load(tmp_path / "bf.safetensors")


def test_pt_names_warn_that_torch_cannot_read_them(tmp_path):
    for name in ("model.pt", "model.pth", "MODEL.PT"):
        with pytest.warns(UserWarning, match="which torch.load cannot read"):
            mg.save({"w": mg.ones(2)}, tmp_path / name)
        assert mg.load(tmp_path / name)["w"].tolist() == [1.0, 1.0]


def test_torch_cannot_load_the_pt_file_and_mg_cannot_load_torchs(torch, tmp_path):
    with pytest.warns(UserWarning):
        mg.save({"w": mg.ones(2)}, tmp_path / "ours.pt")
    with pytest.raises(Exception):
        torch.load(tmp_path / "ours.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "theirs.pt")
    with pytest.raises(RuntimeError, match="is a PyTorch checkpoint .*safetensors.torch.save_file"):
        mg.load(tmp_path / "theirs.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="is a pickle"):
        mg.load(tmp_path / "legacy.pt")
