"""The IDX parser, dataset location/verification/download, the DataLoader, and mg.save/load."""
import gzip
import hashlib
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import data
from minigrad.data import DataLoader, DatasetError, IDXError, TensorDataset, parse_idx, write_idx

STEMS = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


# ------------------------------------------------------------------ IDX
@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip_raw_and_gzip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((5, 3, 4)) * 50).astype(np.dtype(dtype).newbyteorder("="))
    write_idx(tmp_path / "a", array)
    raw = (tmp_path / "a").read_bytes()
    for blob in (raw, gzip.compress(raw)):
        out = parse_idx(blob)
        assert out.shape == (5, 3, 4) and out.dtype == array.dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, array)
    assert raw[:4] == bytes([0, 0, {"u1": 8, "i1": 9, ">i2": 11, ">i4": 12, ">f4": 13,
                                    ">f8": 14}[dtype], 3])
    assert int.from_bytes(raw[4:8], "big") == 5


def _idx_bytes(tmp_path, array):
    write_idx(tmp_path / "x.idx", array)
    return (tmp_path / "x.idx").read_bytes()


def test_idx_errors(tmp_path):
    raw = _idx_bytes(tmp_path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    with pytest.raises(IDXError, match=r"f: truncated: the header says shape \(2, 3, 4\)"):
        parse_idx(raw[:-1], "f")
    with pytest.raises(IDXError, match="trailing bytes"):
        parse_idx(raw + b"\0", "f")
    with pytest.raises(IDXError, match="truncated header"):
        parse_idx(raw[:9], "f")
    with pytest.raises(IDXError, match="not an IDX file"):
        parse_idx(b"PK\x03\x04" + raw[4:], "f")
    with pytest.raises(IDXError, match="not an IDX file"):
        parse_idx(b"", "f")
    with pytest.raises(IDXError, match="corrupt or truncated gzip"):
        parse_idx(gzip.compress(raw)[:-6], "f")
    with pytest.raises(TypeError, match="IDX cannot hold"):
        write_idx(tmp_path / "b", np.zeros(3, np.int64))


# ------------------------------------------------------------------ datasets
def _tiny_split(rng, n):
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.uint8))


@pytest.fixture
def tiny(tmp_path):
    """A dataset class whose checksums are those of small files this test writes, plus a
    mirror directory holding them gzipped (reached through file:// URLs)."""
    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    checksums = {}
    arrays = {}
    for train, n in ((True, 12), (False, 5)):
        for stem, array in zip(STEMS[train], _tiny_split(rng, n)):
            raw = _idx_bytes(tmp_path, array)
            gz = gzip.compress(raw, mtime=0)
            (mirror / f"{stem}.gz").write_bytes(gz)
            checksums[stem] = (hashlib.md5(gz).hexdigest(), hashlib.sha256(raw).hexdigest())
            arrays[stem] = array

    class Tiny(data.MNIST):
        name = "tiny"
        mirrors = ("http://127.0.0.1:9/nothing-here/", mirror.as_uri() + "/")

    Tiny.checksums = checksums
    Tiny.arrays = arrays
    Tiny.mirror = mirror
    return Tiny


def test_download_verify_and_load(tiny, tmp_path):
    root = tmp_path / "root"
    ds = tiny(root=root, train=True)
    assert ds.root == root / "tiny"
    assert sorted(p.name for p in ds.root.iterdir()) == \
        sorted(f"{s}.gz" for s in STEMS[True])            # no temporary files left
    np.testing.assert_array_equal(ds.data.numpy(), tiny.arrays[STEMS[True][0]])
    assert ds.data.dtype == mg.uint8 and ds.data.shape == (12, 28, 28)   # torchvision's
    assert ds.targets.dtype == mg.int64 and len(ds) == 12
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and image.dtype == mg.float32
    assert label == int(tiny.arrays[STEMS[True][1]][3])
    np.testing.assert_allclose(image.numpy()[0], tiny.arrays[STEMS[True][0]][3] / 255,
                               rtol=1e-6)
    x, y = ds[2:5]
    assert x.shape == (3, 1, 28, 28) and y.shape == (3,) and y.dtype == mg.int64
    again = tiny(root=root, train=True, download=False)     # found, not downloaded again
    np.testing.assert_array_equal(again.data.numpy(), ds.data.numpy())
    assert tiny(root=root, train=False).data.shape == (5, 28, 28)


def test_root_holding_the_files_is_used_directly_and_raw_files_work(tiny, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    for stem in STEMS[False]:
        (root / stem).write_bytes(gzip.decompress((tiny.mirror / f"{stem}.gz").read_bytes()))
    ds = tiny(root=root, train=False, download=False)
    assert ds.root == root and len(ds) == 5


def test_recompressed_gzip_is_accepted_by_content(tiny, tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    for stem in STEMS[False]:
        raw = gzip.decompress((tiny.mirror / f"{stem}.gz").read_bytes())
        (root / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=123))
    assert len(tiny(root=root, train=False, download=False)) == 5


def test_corrupt_and_truncated_files_are_errors(tiny, tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    stem = STEMS[False][0]
    raw = bytearray(gzip.decompress((tiny.mirror / f"{stem}.gz").read_bytes()))
    (root / STEMS[False][1]).write_bytes(
        gzip.decompress((tiny.mirror / f"{STEMS[False][1]}.gz").read_bytes()))
    raw[100] ^= 1
    (root / stem).write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=f"{stem} failed verification: the SHA-256"):
        tiny(root=root, train=False, download=False)
    (root / stem).unlink()
    (root / f"{stem}.gz").write_bytes((tiny.mirror / f"{stem}.gz").read_bytes()[:-10])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip"):
        tiny(root=root, train=False, download=False)


def test_offline_error_says_where_it_looked_and_what_to_do(tiny, tmp_path):
    tiny.mirrors = ("http://127.0.0.1:9/a/", (tmp_path / "missing").as_uri() + "/")
    with pytest.raises(DatasetError) as info:
        tiny(root=tmp_path / "nowhere", train=False)
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "tiny") in message and "the root argument" in message
    assert "127.0.0.1:9" in message and "MINIGRAD_DATA=DIR" in message
    assert not (tmp_path / "nowhere" / "tiny").exists() or \
        not list((tmp_path / "nowhere" / "tiny").iterdir())
    with pytest.raises(DatasetError, match="download=False"):
        tiny(root=tmp_path / "nowhere", train=False, download=False)


def test_download_with_wrong_checksum_leaves_nothing(tiny, tmp_path):
    stem = STEMS[False][0]
    tiny.checksums = {**tiny.checksums, stem: ("0" * 32, tiny.checksums[stem][1])}
    with pytest.raises(DatasetError, match=r"MD5 [0-9a-f]{32}, expected 0{32}"):
        tiny(root=tmp_path / "r", train=False)
    assert not (tmp_path / "r" / "tiny" / f"{stem}.gz").exists()


def test_root_from_environment_then_default_cache(tiny, tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()                    # must exist (a typo is an error)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path / "env"))
    assert tiny(train=False).root == tmp_path / "env" / "tiny"
    monkeypatch.delenv("MINIGRAD_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tiny(train=False).root == tmp_path / "home" / ".cache" / "minigrad" / "tiny"


def test_fashion_mnist_is_not_mistaken_for_mnist(tmp_path):
    """A directory of MNIST files is not Fashion-MNIST: the checksums say so."""
    rng = np.random.default_rng(0)
    for stem, array in zip(STEMS[False], _tiny_split(rng, 3)):
        (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx_bytes(tmp_path, array)))
    with pytest.raises(DatasetError, match="failed verification: its MD5"):
        data.FashionMNIST(root=tmp_path, train=False, download=False)


def test_mnist_transforms_have_torchvisions_meaning(tiny, tmp_path):
    from minigrad.data import transforms as T
    seen = []

    def spy(image):
        seen.append((type(image), image.dtype, image.shape))
        image[:] = 0                                   # a copy: the dataset is unharmed
        return "img"

    ds = tiny(root=tmp_path / "r", train=False, transform=spy, target_transform=lambda y: -y)
    image, label = ds[2]
    assert (image, label) == ("img", -int(tiny.arrays[STEMS[False][1]][2]))
    assert seen == [(np.ndarray, np.uint8, (28, 28))]
    np.testing.assert_array_equal(ds.data.numpy(), tiny.arrays[STEMS[False][0]])

    plain = tiny(root=tmp_path / "r", train=False)
    norm = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = tiny(root=tmp_path / "r", train=False, transform=norm)
    raw = tiny.arrays[STEMS[False][0]]
    by_hand = (raw[1] / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_array_equal(ds[1][0].numpy()[0], by_hand)
    np.testing.assert_array_equal(plain[1][0].numpy(), T.ToTensor()(raw[1]).numpy())
    assert isinstance(ds[1][1], int)


@pytest.mark.parametrize("transform", ["none", "compose", "lambda", "target"])
def test_mnist_batches_equal_image_by_image_batches(tiny, tmp_path, transform):
    """The one-index batch fetch (no transform, or ToTensor/Normalize) gives the same bits
    as fetching and collating image by image; other transforms go image by image."""
    from minigrad.data import transforms as T
    kwargs = {"none": {},
              "compose": {"transform": T.Compose([T.ToTensor(),
                                                  T.Normalize((0.1307,), (0.3081,))])},
              "lambda": {"transform": T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2)])},
              "target": {"target_transform": lambda y: y + 10}}[transform]
    ds = tiny(root=tmp_path / "r", train=True, **kwargs)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, seed=1,
                           collate_fn=lambda samples: data.default_collate(samples)))
    assert len(fast) == 3
    for (x, y), (x0, y0) in zip(fast, slow):
        assert x.dtype == mg.float32 and x.shape[1:] == (1, 28, 28) and y.dtype == mg.int64
        np.testing.assert_array_equal(x.numpy(), x0.numpy())
        np.testing.assert_array_equal(y.numpy(), y0.numpy())
    images, labels = ds[3:6]                     # (+) a slice gives a batch
    np.testing.assert_array_equal(images.numpy()[1], ds[4][0].numpy())
    assert labels.tolist()[1] == ds[4][1]


def test_mnist_data_and_targets_are_torchvisions(tiny, tmp_path):
    ds = tiny(root=tmp_path / "r", train=True)
    assert ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9
    ds.data, ds.targets = ds.data[:4], ds.targets[:4]      # the usual way to take a part
    assert len(ds) == 4 and len(list(DataLoader(ds, batch_size=3))) == 2
    assert data.FashionMNIST.classes[9] == "Ankle boot"


def _real_mnist_dir():
    root = os.environ.get("MINIGRAD_DATA")
    if not root or not (Path(root) / "t10k-labels-idx1-ubyte.gz").exists() and \
            not (Path(root) / "mnist" / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("real MNIST not available (set MINIGRAD_DATA to the IDX files)")
    return root


def test_real_mnist():
    _real_mnist_dir()
    train, test = data.MNIST(train=True, download=False), data.MNIST(train=False,
                                                                     download=False)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert train.data.dtype == mg.uint8 and train.targets.dtype == mg.int64
    assert sorted(set(train.targets.tolist())) == list(range(10))
    assert np.bincount(test.targets.numpy()).tolist() == \
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    pixels = train.data.numpy() / 255.0
    assert pixels.mean() == pytest.approx(0.1307, abs=1e-4)
    assert pixels.std() == pytest.approx(0.3081, abs=1e-4)


# ------------------------------------------------------------------ DataLoader
def _epochs(loader, n=2):
    return [[tuple(t.numpy().copy() for t in batch) for batch in loader] for _ in range(n)]


def _dataset(n=23):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return TensorDataset(mg.tensor(x), mg.tensor(np.arange(n)))


def test_loader_shapes_order_and_length():
    loader = DataLoader(_dataset(), batch_size=5)
    batches = list(loader)
    assert len(loader) == len(batches) == 5
    assert [b[0].shape for b in batches] == [(5, 2)] * 4 + [(3, 2)]
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(23))
    assert batches[0][1].dtype == mg.int64 and batches[0][0].dtype == mg.float32
    dropped = DataLoader(_dataset(), batch_size=5, drop_last=True)
    assert len(dropped) == len(list(dropped)) == 4


def test_loader_shuffle_is_a_permutation_and_deterministic_per_seed():
    a = _epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=7))
    b = _epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=7))
    c = _epochs(DataLoader(_dataset(), batch_size=4, shuffle=True, seed=8))
    flat = [np.concatenate([batch[1] for batch in epoch]) for epoch in a]
    assert all(sorted(f.tolist()) == list(range(23)) for f in flat)
    assert not np.array_equal(flat[0], flat[1])              # each epoch reshuffles
    assert not np.array_equal(flat[0], np.arange(23))
    for ea, eb in zip(a, b):
        for ba, bb in zip(ea, eb):
            np.testing.assert_array_equal(ba[1], bb[1])
    assert not np.array_equal(flat[0], np.concatenate([x[1] for x in c[0]]))
    for ba in a[0]:                                           # rows stay paired
        np.testing.assert_array_equal(ba[0][:, 0], 2 * ba[1])


def test_loader_without_seed_follows_manual_seed():
    mg.manual_seed(3)
    a = _epochs(DataLoader(_dataset(), batch_size=6, shuffle=True), 1)
    mg.manual_seed(3)
    b = _epochs(DataLoader(_dataset(), batch_size=6, shuffle=True), 1)
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x[1], y[1])


def test_array_datasets_are_fetched_a_batch_at_a_time(monkeypatch):
    ds = _dataset()
    monkeypatch.setattr(TensorDataset, "__getitem__",
                        lambda *a: pytest.fail("per-sample fetch on the hot path"))
    assert len(list(DataLoader(ds, batch_size=4, shuffle=True, seed=0))) == 6


def test_generic_dataset_is_collated_like_the_batched_path():
    class Squares(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": mg.tensor([float(i), i * i]), "y": i, "w": 0.5}

    batches = list(DataLoader(Squares(), batch_size=3))
    assert [b["x"].shape for b in batches] == [(3, 2), (3, 2), (1, 2)]
    assert batches[1]["y"].tolist() == [3, 4, 5] and batches[1]["y"].dtype == mg.int64
    assert batches[0]["w"].dtype == mg.float64
    np.testing.assert_array_equal(batches[1]["x"].numpy()[:, 1], [9, 16, 25])


def test_loader_and_dataset_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(_dataset(), batch_size=0)
    with pytest.raises(ValueError, match=r"size mismatch.*\[3, 4\]"):
        TensorDataset(mg.zeros(3, 2), mg.zeros(4))
    with pytest.raises(TypeError, match="cannot batch samples of type object"):
        data.default_collate([object(), object()])


def test_real_mnist_loader_epoch():
    _real_mnist_dir()
    loader = DataLoader(data.MNIST(train=False, download=False), batch_size=1000,
                        shuffle=True, seed=0)
    labels = np.concatenate([y.numpy() for _, y in loader])
    assert len(labels) == 10000 and np.bincount(labels)[1] == 1135


# ------------------------------------------------------------------ save / load
def _nested():
    return {"model": {"0.weight": mg.randn(3, 2), "0.num_batches_tracked": mg.tensor(4)},
            "optim": {"state": {0: {"step": 3.0, "exp_avg": mg.zeros(3, 2, dtype=mg.float64)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0],
                                        "nesterov": False, "name": None}]},
            "milestones": Counter([2, 5, 5]), "mask": np.array([True, False]),
            "scalar": np.float32(1.5), "nan": float("nan"), "big": 2 ** 40,
            "grad": mg.ones(2, requires_grad=True)}


def test_save_load_round_trip(tmp_path):
    obj = _nested()
    mg.save(obj, tmp_path / "c.npz")
    out = mg.load(tmp_path / "c.npz")
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]
    np.testing.assert_array_equal(out["model"]["0.weight"].numpy(),
                                  obj["model"]["0.weight"].numpy())
    assert out["model"]["0.weight"].dtype == mg.float32
    assert out["model"]["0.num_batches_tracked"].dtype == mg.int64
    assert list(out["optim"]["state"]) == [0] and out["optim"]["state"][0]["step"] == 3.0
    assert out["optim"]["state"][0]["exp_avg"].dtype == mg.float64
    group = out["optim"]["param_groups"][0]
    assert group == {"lr": 0.1, "betas": (0.9, 0.999), "params": [0], "nesterov": False,
                     "name": None}
    assert isinstance(group["betas"], tuple)
    assert out["milestones"] == Counter([2, 5, 5]) and isinstance(out["milestones"], Counter)
    assert out["mask"].dtype == bool and out["scalar"] == np.float32(1.5)
    assert isinstance(out["scalar"], np.float32)
    assert np.isnan(out["nan"]) and out["big"] == 2 ** 40
    assert out["grad"].requires_grad


def test_save_load_file_object():
    import io
    buffer = io.BytesIO()
    mg.save({"w": mg.ones(2)}, buffer)
    buffer.seek(0)
    assert mg.load(buffer)["w"].tolist() == [1.0, 1.0]


def test_module_state_dict_through_a_file(tmp_path):
    import minigrad.nn as nn
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    a(mg.randn(4, 1, 5, 5))
    mg.save(a.state_dict(), tmp_path / "m.npz")
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    b.load_state_dict(mg.load(tmp_path / "m.npz"))
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.numpy(), v2.numpy())


def test_truncated_or_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    mg.save(_nested(), path)
    blob = path.read_bytes()
    for cut in (len(blob) // 2, len(blob) - 30, 10):
        path.write_bytes(blob[:cut])
        with pytest.raises(RuntimeError, match="not a complete minigrad checkpoint"):
            mg.load(path)
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(RuntimeError, match="not a complete minigrad checkpoint"):
        mg.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        mg.load(tmp_path / "absent.npz")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    mg.save({"v": mg.ones(3)}, path)
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        mg.save({"v": mg.zeros(1000)}, path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["c.npz"]
    assert mg.load(path)["v"].tolist() == [1.0, 1.0, 1.0]


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save object at obj\['a'\]\[1\]"):
        mg.save({"a": [1, object()]}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


# ------------------------------------------------------------------ hostile checkpoints

def _rewrite_manifest(path, edit):
    """The checkpoint at ``path`` with its JSON manifest passed through ``edit``."""
    import json
    with np.load(path) as a:
        members = {k: a[k] for k in a.files}
    manifest = json.loads(bytes(members["__manifest__"]).decode())
    manifest = edit(manifest)
    members["__manifest__"] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    np.savez(path, **members)


@pytest.mark.parametrize("edit", [
    lambda m: {k: v for k, v in m.items() if k != "root"},                 # KeyError
    lambda m: {**m, "count": m["count"] + 3},                              # missing member
    lambda m: {**m, "root": {"t": "tensor", "ref": 99, "requires_grad": False}},  # IndexError
    lambda m: {**m, "root": {"t": "list", "items": 5}},                    # TypeError
    lambda m: {**m, "root": {"t": "nonsense"}},                            # KeyError
    lambda m: [1, 2, 3],                                                   # not a dict
    lambda m: {**m, "root": "text"},                                       # TypeError
], ids=["no-root", "count", "ref", "items", "kind", "list", "root-str"])
def test_damaged_manifest_is_the_one_documented_error(tmp_path, edit):
    path = tmp_path / "ck.npz"
    mg.save({"w": mg.ones(3), "n": [1, 2]}, path)
    _rewrite_manifest(path, edit)
    with pytest.raises(RuntimeError, match=r"ck.npz' is not a complete minigrad checkpoint"):
        mg.load(path)


def test_plain_npy_and_foreign_files_are_the_documented_error(tmp_path):
    np.save(tmp_path / "plain.npy", np.arange(3))
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    (tmp_path / "text.npz").write_text("hello")
    for name in ("plain.npy", "other.npz", "text.npz"):
        with pytest.raises(RuntimeError, match="not a complete minigrad checkpoint"):
            mg.load(tmp_path / name)


def test_save_refuses_object_arrays_naming_the_key(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['bad'\] has dtype object"):
        mg.save({"ok": np.ones(2), "bad": np.array([{"a": 1}, None], dtype=object)},
                tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        mg.save({"w": mg.ones(2)}, tmp_path / "a.npz")
        os.umask(0o077)
        mg.save({"w": mg.ones(2)}, tmp_path / "b.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == 0o600


def test_temporaries_of_dead_writers_are_removed(tmp_path):
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".ck.npz.tmp-{dead}-abcd1234"
    live = tmp_path / f".ck.npz.tmp-{os.getppid()}-abcd1234"   # a running process's
    other = tmp_path / f".other.npz.tmp-{dead}-abcd1234"         # another target's
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    mg.save({"w": mg.ones(2)}, tmp_path / "ck.npz")
    assert not stale.exists() and live.exists() and other.exists()
    assert float(mg.load(tmp_path / "ck.npz")["w"].sum()) == 2.0


_FULL_DISK = """
import os, resource, signal, sys
import numpy as np
import minigrad as mg
path = sys.argv[1]
mg.save({"w": mg.ones(4)}, path)                       # the checkpoint to keep
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # writes past the limit fail: EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
try:
    mg.save({"w": mg.ones(1 << 20)}, path)             # 4 MB: cannot fit
except OSError as e:
    print("failed", e.errno)
"""


def test_a_save_that_runs_out_of_space_keeps_the_old_checkpoint(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "ck.npz"
    r = subprocess.run([sys.executable, "-c", _FULL_DISK, str(path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("failed"), r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]   # no temporary left
    assert float(mg.load(path)["w"].sum()) == 4.0


# ------------------------------------------------------------------ hostile data files

def test_gzip_bomb_is_refused_without_decompressing_it():
    """An IDX header for 4 bytes of data followed by 512 MB of zeros, compressed to ~0.5 MB:
    decompression stops one byte past what the header declares."""
    import tracemalloc
    header = bytes([0, 0, 0x08, 1]) + (4).to_bytes(4, "big")
    c = __import__("zlib").compressobj(9, wbits=31)
    bomb = c.compress(header + b"\1" * 4)
    zeros = bytes(1 << 20)
    for _ in range(512):
        bomb += c.compress(zeros)
    bomb += c.flush()
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    with pytest.raises(IDXError, match="trailing bytes"):
        parse_idx(bomb, "bomb")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20, f"decompression allocated {peak} bytes"


def test_idx_header_sizes_are_computed_without_wrapping():
    # four dimensions of 2^31: their product wraps to 0 in int64, and the old length check
    # then accepted an empty payload
    crafted = bytes([0, 0, 0x08, 4]) + (1 << 31).to_bytes(4, "big") * 4
    with pytest.raises(IDXError, match="more than any IDX file minigrad reads"):
        parse_idx(crafted, "crafted")
    with pytest.raises(IDXError, match="more than any IDX file minigrad reads"):
        parse_idx(gzip.compress(crafted), "crafted")


def test_a_directory_where_a_file_should_be_is_a_dataset_error(tiny, tmp_path):
    root = tmp_path / "data"
    (root / tiny.name).mkdir(parents=True)
    (root / tiny.name / "train-images-idx3-ubyte.gz").mkdir()
    with pytest.raises(DatasetError, match="is a directory"):
        tiny(root=root, download=False)


def test_damaged_raw_file_without_a_checksum_is_a_dataset_error(tmp_path):
    """Fashion-MNIST's raw files have no known checksum: the structure check must still
    come out as a DatasetError naming the file and what to do."""
    root = tmp_path / "fashion"
    root.mkdir()
    for stem in data.FashionMNIST.checksums:
        (root / stem).write_bytes(bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big") + b"\1" * 3)
    with pytest.raises(DatasetError, match="failed verification: .*truncated.*delete it"):
        data.FashionMNIST(root=root, download=False)


# Peak memory of a child process while it reads a hostile file. tracemalloc cannot see
# zlib's output buffers, so the child reports its peak RSS (ru_maxrss, KiB on Linux) before
# and after the call; the difference bounds what the call allocated.
_PEAK_RSS = r"""
import json, resource, sys, zlib
from pathlib import Path

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def bomb(header, zeros_mib):
    c = zlib.compressobj(1, wbits=31)
    out = [c.compress(header)]
    block = bytes(1 << 20)
    out += [c.compress(block) for _ in range(zeros_mib)]
    return b"".join(out) + c.flush()

import minigrad.data as data
from minigrad.data.idx import gunzip
kind, where = sys.argv[1], Path(sys.argv[2])
if kind == "gunzip":
    blob = bomb(b"", 256)                      # 256 MiB of zeros: a 0-dimension IDX header
    call = lambda: gunzip(blob, "bomb.gz")
else:
    stem = "train-images-idx3-ubyte"
    if kind == "mnist-zeros":                  # the same bomb where MNIST's images should be
        (where / f"{stem}.gz").write_bytes(bomb(b"", 512))
    elif kind == "mnist-big-header":           # a header 10x MNIST's size, then 512 MiB of zeros
        header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (60000, 280, 28))
        (where / f"{stem}.gz").write_bytes(bomb(header, 512))
    elif kind == "mnist-raw-huge":             # a sparse 1 GiB raw file
        with open(where / stem, "wb") as f:
            f.truncate(1 << 30)
    call = lambda: data.MNIST(root=where, train=True, download=False)
before = peak()
try:
    call()
    error = None
except Exception as e:
    error = f"{type(e).__name__}: {e}"
print(json.dumps({"grew": peak() - before, "error": error}))
"""


def _peak_rss_of(kind, where):
    import json
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", _PEAK_RSS, kind, str(where)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])


def test_gzip_bomb_with_a_zero_dimension_header_is_refused_in_bounded_memory(tmp_path):
    """zlib reads a max_length of 0 as 'no limit': a header declaring 0 dimensions used to
    inflate the whole stream (256 MiB here) before anything looked at it."""
    out = _peak_rss_of("gunzip", tmp_path)
    assert out["error"] is not None and out["error"].startswith("IDXError: bomb.gz:"), out
    assert out["grew"] < 16 << 20, out


@pytest.mark.parametrize("kind", ["mnist-zeros", "mnist-big-header", "mnist-raw-huge"])
def test_mnist_refuses_a_hostile_file_in_bounded_memory(tmp_path, kind):
    """A file that is not MNIST's costs at most about one MNIST file of memory, whatever its
    header claims and however far it inflates, and the error names the file."""
    out = _peak_rss_of(kind, tmp_path)
    assert out["error"] is not None and out["error"].startswith("DatasetError: MNIST: "), out
    assert "train-images-idx3-ubyte" in out["error"], out
    assert out["grew"] < 64 << 20, out
