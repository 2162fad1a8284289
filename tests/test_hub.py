"""minigrad.hub and torch.utils.model_zoo's load_url: checkpoints by URL, cached once,
hash-checked, read with mg.load (file:// URLs: no network needed)."""
import hashlib
import os

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.utils import model_zoo


def _url(path):
    return "file://" + os.path.abspath(path)


@pytest.fixture
def hub_dir(tmp_path):
    before = mg.hub.get_dir()
    mg.hub.set_dir(tmp_path / "hub")
    yield tmp_path / "hub"
    mg.hub.set_dir(before)


def test_a_checkpoint_is_downloaded_once_into_the_hub_cache(tmp_path, hub_dir):
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    src = tmp_path / "net.npz"
    mg.save(net.state_dict(), src)
    state = mg.hub.load_state_dict_from_url(_url(src), progress=False)
    cached = hub_dir / "checkpoints" / "net.npz"
    assert cached.exists()
    twin = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    twin.load_state_dict(state)
    x = mg.randn(4, 3)
    np.testing.assert_array_equal(twin(x).detach().numpy(), net(x).detach().numpy())
    os.remove(src)                                     # served from the cache now
    again = model_zoo.load_url(_url(src), progress=False)
    assert set(again) == set(state)
    assert model_zoo.load_url is mg.hub.load_state_dict_from_url


def test_check_hash_compares_the_name_with_the_content(tmp_path, hub_dir):
    src = tmp_path / "w.npz"
    mg.save({"w": mg.ones(3)}, src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    good = tmp_path / f"w-{digest[:10]}.npz"
    bad = tmp_path / "w-0123abcd.npz"
    good.write_bytes(src.read_bytes())
    bad.write_bytes(src.read_bytes())
    out = mg.hub.load_state_dict_from_url(_url(good), check_hash=True, progress=False)
    np.testing.assert_array_equal(out["w"].numpy(), np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="invalid hash value"):
        mg.hub.load_state_dict_from_url(_url(bad), check_hash=True, progress=False)
    assert not (hub_dir / "checkpoints" / bad.name).exists()    # nothing half-kept


def test_map_location_and_file_name(tmp_path, hub_dir):
    src = tmp_path / "a.npz"
    mg.save({"w": mg.ones(2)}, src)
    out = mg.hub.load_state_dict_from_url(_url(src), map_location="cpu", file_name="b.npz",
                                          progress=False)
    assert str(out["w"].device) == "cpu" and (hub_dir / "checkpoints" / "b.npz").exists()
    with pytest.raises(TypeError, match="map_location"):
        mg.hub.load_state_dict_from_url(_url(src), map_location=lambda s, l: s,
                                        progress=False)


def test_a_torch_pickle_is_refused_and_safetensors_from_torch_load(tmp_path, hub_dir):
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Linear(3, 2).double()
    torch.save(tnet.state_dict(), tmp_path / "t.pth")
    with pytest.raises(RuntimeError, match="safetensors"):
        mg.hub.load_state_dict_from_url(_url(tmp_path / "t.pth"), progress=False)
    st = pytest.importorskip("safetensors.torch")
    st.save_file(tnet.state_dict(), tmp_path / "t.safetensors")
    ours = nn.Linear(3, 2).double()
    ours.load_state_dict(mg.hub.load_state_dict_from_url(_url(tmp_path / "t.safetensors"),
                                                         progress=False))
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(ours(mg.tensor(x)).detach().numpy(),
                               tnet(torch.tensor(x)).detach().numpy(), rtol=1e-15)
