"""minigrad.distributed: the multi-process checks run under ``mpiexec -n k`` (scripts in
tests/mpi_scripts, each a batch of checks, with a timeout so a failure ends instead of
hanging); world-size-1 behaviour, the sampler and the loader run in this process."""
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.data import DataLoader, TensorDataset
from minigrad.distributed import DistributedDataParallel, DistributedSampler, get_world_size
from minigrad.distributed.nn.functional import all_reduce

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "tests", "mpi_scripts")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and mpiexec (pip install 'minigrad[mpi]')")


def mpirun(n, script, *args, timeout=60):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, script, *args], cwd=SCRIPTS,
                          env=env, capture_output=True, text=True, timeout=timeout)


def first_batch_of_syncbn_check():
    """The first whole batch (6, 4, 3, 3) and gamma, beta of syncbn_check.py's first case."""
    rng = np.random.default_rng(11)
    gamma, beta = rng.uniform(0.5, 1.5, 4), rng.standard_normal(4)
    X = (rng.standard_normal((6, 4, 3, 3)) * rng.uniform(0.5, 3, (1, 4, 1, 1))
         + rng.standard_normal((1, 4, 1, 1)))
    return X, gamma, beta


@needs_mpi
def test_syncbn_on_shards_equals_batchnorm_on_the_whole_batch(tmp_path):
    """Under mpiexec -n 3 (the checks are in the script), then the 4-way comparison: BN in
    one process = SyncBN in one process = SyncBN over 3 processes != BN on each shard."""
    out = tmp_path / "syncbn.npz"
    r = mpirun(3, "syncbn_check.py", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed checks over 3 ranks" in r.stdout
    X, gamma, beta = first_batch_of_syncbn_check()
    outputs = {}
    for cls in (nn.BatchNorm2d, nn.SyncBatchNorm):
        m = cls(4, momentum=0.3).double()
        m.weight.array[...], m.bias.array[...] = gamma, beta
        outputs[cls] = m(mg.tensor(X)).detach().numpy()
    saved = np.load(out)
    np.testing.assert_array_equal(outputs[nn.SyncBatchNorm], outputs[nn.BatchNorm2d])
    np.testing.assert_allclose(saved["sync"], outputs[nn.BatchNorm2d], rtol=0, atol=1e-10)
    plain = saved["plain"] * gamma[:, None, None] + beta[:, None, None]
    assert np.abs(plain - outputs[nn.BatchNorm2d]).max() > 0.1


@needs_mpi
def test_ddp_with_syncbn_trains_as_one_process_on_the_whole_batch():
    """Under mpiexec -n 2: broadcast_parameters, 3 SGD-momentum steps of DDP + SyncBN vs
    one process, all_reduce gradcheck/gradgradcheck, a rank with no incoming gradient."""
    r = mpirun(2, "ddp_check.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed checks over 2 ranks" in r.stdout


@needs_mpi
def test_the_rank_scripts_harness_flags_what_is_wrong():
    """check() in tests/mpi_scripts/_harness.py, which every rank script's verdict rests on:
    wrong shapes, values and NaN are failures (harness_check.py expects each one)."""
    r = mpirun(2, "harness_check.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed checks over 2 ranks" in r.stdout


@needs_mpi
def test_an_exception_on_one_rank_ends_every_rank():
    r = mpirun(3, "abort_check.py", timeout=30)
    assert r.returncode != 0
    assert "ValueError: boom on rank 1" in r.stderr
    assert "unreachable" not in r.stdout


# ---------------------------------------------------------------- one process, no launcher
def test_world_of_one_process():
    assert get_world_size() == 1
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = all_reduce(x)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 4, 5), (2, 3, 2, 3, 2)])
def test_syncbatchnorm_is_batchnorm_in_one_process(shape, rng):
    bn = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}[len(shape)]
    ref, sync = bn(3, momentum=None).double(), nn.SyncBatchNorm(3, momentum=None).double()
    for m in (ref, sync):
        m.weight.array[...], m.bias.array[...] = [0.5, 1.0, 2.0], [0.1, -0.2, 0.3]
    for _ in range(2):
        X, G = rng.standard_normal(shape), rng.standard_normal(shape)
        xs = [mg.tensor(X, requires_grad=True) for _ in range(2)]
        ys = [m(x) for m, x in zip((ref, sync), xs)]
        for y in ys:
            (y * mg.tensor(G)).sum().backward()
        np.testing.assert_array_equal(ys[1].detach().numpy(), ys[0].detach().numpy())
        np.testing.assert_array_equal(xs[1].grad.numpy(), xs[0].grad.numpy())
    for a, b in zip(ref.state_dict().values(), sync.state_dict().values()):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    assert list(sync.state_dict()) == list(ref.state_dict())


def test_convert_sync_batchnorm_keeps_weights_buffers_and_dtype():
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3),
                        nn.Sequential(nn.Flatten(), nn.BatchNorm1d(12))).double()
    net[1].running_mean.array[...] = 2.0
    net.eval()
    before = net.state_dict()
    weight = net[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(converted[1], nn.SyncBatchNorm)
    assert isinstance(converted[2][1], nn.SyncBatchNorm)
    assert converted[1].weight is weight and not converted[1].training
    assert converted[1].running_mean.dtype == mg.float64
    after = converted.state_dict()
    assert list(after) == list(before)
    for k in before:
        np.testing.assert_array_equal(after[k].numpy(), before[k].numpy())


def test_syncbatchnorm_input_checks():
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(mg.ones(3))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.SyncBatchNorm(3)(mg.ones(2, 4))


def test_ddp_in_one_process_passes_through(rng):
    model = nn.Linear(3, 2)
    ddp = DistributedDataParallel(model)
    x = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    ddp(x).sum().backward()
    ref = nn.Linear(3, 2)
    ref.load_state_dict(model.state_dict())
    ref(x).sum().backward()
    np.testing.assert_array_equal(model.weight.grad.numpy(), ref.weight.grad.numpy())
    assert ddp.module is model


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                                  (2, 3, False)])
def test_distributed_sampler_splits_like_torch(torch, n, replicas, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler
    for shuffle in (False, True):
        ours = [list(DistributedSampler(range(n), replicas, r, shuffle=shuffle,
                                        drop_last=drop_last)) for r in range(replicas)]
        theirs = [list(TorchSampler(range(n), replicas, r, shuffle=shuffle,
                                    drop_last=drop_last)) for r in range(replicas)]
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        if not shuffle:  # (the permutations come from different generators)
            assert ours == theirs
        else:
            flat = sum(ours, [])
            assert set(flat) <= set(range(n))
            if drop_last:    # no padding: each index at most once
                assert len(set(flat)) == len(flat)
            else:            # padding repeats indices: every one appears
                assert set(flat) == set(range(n))


def test_distributed_sampler_set_epoch_reshuffles_the_same_way_on_every_rank():
    a = DistributedSampler(range(20), 2, 0, seed=3)
    b = DistributedSampler(range(20), 2, 1, seed=3)
    first = list(a) + list(b)
    assert sorted(first) == list(range(20))
    a.set_epoch(1), b.set_epoch(1)
    assert sorted(list(a) + list(b)) == list(range(20)) and list(a) + list(b) != first
    assert list(DistributedSampler(range(20), 2, 0, seed=3)) == first[:10]
    with pytest.raises(ValueError, match="invalid rank"):
        DistributedSampler(range(4), 2, 2)


def test_dataloader_with_sampler():
    ds = TensorDataset(np.arange(10.0))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = DataLoader(ds, batch_size=2, sampler=sampler)
    assert len(loader) == 3
    assert [b[0].numpy().tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=sampler, shuffle=True)


@needs_mpi
def test_the_ddp_example_runs_on_two_ranks(tmp_path):
    """examples/ddp_mnist.py --quick under mpiexec -n 2: a global batch of 2 x 32, and
    only rank 0 writes the results."""
    data = os.environ.get("MINIGRAD_DATA")
    if not data:
        pytest.skip("real MNIST not available (set MINIGRAD_DATA)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([MPIEXEC, "-n", "2", sys.executable,
                        os.path.join(ROOT, "examples", "ddp_mnist.py"), "--quick",
                        "--out", str(tmp_path)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    result = json.loads((tmp_path / "ddp_mnist.json").read_text())
    assert result["world_size"] == 2 and result["global_batch"] == 64
    assert result["test_accuracy"][-1] > 0.8
    assert r.stdout.count("wrote") == 3         # npz, json, png: once, from rank 0


# ---------------------------------------------------------------- PyTorch's names
@needs_mpi
def test_torch_distributed_names_under_mpiexec():
    """Under mpiexec -n 3, a script written as for PyTorch: init_process_group("gloo"),
    all_reduce with every ReduceOp, broadcast, all_gather, barrier, DDP with PyTorch's
    arguments (unused parameters, buckets, no_sync, buffer broadcasting), leaving and
    joining again."""
    r = mpirun(3, "torch_api_check.py")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed checks over 3 ranks" in r.stdout


def test_reduce_op_has_torchs_members(torch):
    import minigrad.distributed as dist
    import torch.distributed as tdist
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert repr(getattr(dist.ReduceOp, name)) == repr(getattr(tdist.ReduceOp, name))
        assert getattr(dist.ReduceOp, name) == getattr(dist.ReduceOp.RedOpType, name)


def test_collectives_in_a_world_of_one_process():
    """Without a launcher every collective is the identity, in place, returning None."""
    import minigrad.distributed as dist
    t = mg.tensor([1.0, -2.0])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT):
        assert dist.all_reduce(t, op=op) is None
    assert t.tolist() == [1.0, -2.0]
    assert dist.broadcast(t, src=0) is None and t.tolist() == [1.0, -2.0]
    out = [mg.zeros(2)]
    assert dist.all_gather(out, t) is None and out[0].tolist() == [1.0, -2.0]
    assert dist.barrier() is None
    assert dist.all_reduce(t, async_op=True).wait()
    with pytest.raises(RuntimeError, match="Cannot use ReduceOp.BAND with non-integral"):
        dist.all_reduce(t, op=dist.ReduceOp.BAND)
    with pytest.raises(RuntimeError, match="invalid output tensor list"):
        dist.all_gather([mg.zeros(2), mg.zeros(2)], t)
    with pytest.raises(ValueError, match="src 1 is not a rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="one process group"):
        dist.all_reduce(t, group=object())
    with pytest.raises(TypeError, match="op must be a ReduceOp"):
        dist.all_reduce(t, op="sum")


def test_init_process_group_backends():
    """Run in a fresh interpreter: joining changes the process (MPI, excepthook)."""
    code = (
        "import minigrad.distributed as dist\n"
        "assert not dist.is_initialized()\n"
        "for bad in ('nccl', 'ucc', 'foo'):\n"
        "    try:\n"
        "        dist.init_process_group(bad)\n"
        "    except ValueError as e:\n"
        "        assert 'not available in minigrad' in str(e), e\n"
        "    else:\n"
        "        raise AssertionError(bad)\n"
        "assert not dist.is_initialized()\n"
        "try:\n"
        "    dist.init_process_group('mpi', world_size=2)\n"
        "except ValueError as e:\n"
        "    assert \"MPI's is 1\" in str(e)\n"
        "assert not dist.is_initialized()\n"
        "dist.init_process_group('gloo', rank=0, world_size=1)\n"
        "assert dist.is_initialized() and dist.get_world_size() == 1\n"
        "try:\n"
        "    dist.init_process_group('mpi')\n"
        "except ValueError as e:\n"
        "    assert 'twice' in str(e)\n"
        "dist.destroy_process_group()\n"
        "assert not dist.is_initialized()\n"
        "dist.init_process_group(backend=None)\n"
        "print('ok', dist.get_backend())\n")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok mpi"


def test_differentiable_all_reduce_only_sums():
    from minigrad.distributed import ReduceOp
    with pytest.raises(mg.errors.InvalidArgument, match="only ReduceOp.SUM"):
        all_reduce(mg.ones(2), op=ReduceOp.MAX)


def test_ddp_takes_torchs_arguments_in_one_process(rng):
    from minigrad.nn.parallel import DistributedDataParallel as DDP
    assert DDP is DistributedDataParallel
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ddp = DDP(model, device_ids=None, output_device=None, dim=0, broadcast_buffers=False,
              init_sync=False, bucket_cap_mb=25, find_unused_parameters=True,
              check_reduction=False, gradient_as_bucket_view=True, static_graph=True)
    assert ddp.module is model and ddp.find_unused_parameters
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    x = mg.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    with ddp.no_sync():
        assert not ddp.require_backward_grad_sync
        ddp(x).sum().backward()
    assert ddp.require_backward_grad_sync
    for kwargs, message in [(dict(device_ids=[0]), "only work with single-device"),
                            (dict(output_device=0), "only work with single-device"),
                            (dict(process_group=object()), "one process group"),
                            (dict(mixed_precision=object()), "mixed_precision is not")]:
        with pytest.raises(ValueError, match=message):
            DDP(model, **kwargs)
