"""PyTorch's torch.distributed names on minigrad's MPI engine, written as a PyTorch script
would use them: init_process_group, the in-place collectives with every ReduceOp,
broadcast, all_gather, barrier, nn.parallel.DistributedDataParallel with PyTorch's
arguments (unused parameters, small buckets, no_sync, buffer broadcasting), and
destroy_process_group.

    mpiexec -n 3 python tests/mpi_scripts/torch_api_check.py
"""
import numpy as np
from _harness import check, expect, finish, rank, sum_over_ranks, world

import minigrad as torch            # (what a PyTorch script changes: its imports)
import minigrad.distributed as dist
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.nn.parallel import DistributedDataParallel as DDP


def raises(name, exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    except Exception as e:   # noqa: BLE001
        expect(f"{name}: raised {type(e).__name__}: {e}", False)
        return
    expect(f"{name}: did not raise {exc.__name__}", False)


# ---- the process group
dist.init_process_group(backend="gloo")       # (mapped to MPI)
expect("is_initialized", dist.is_initialized())
expect("rank and world size are MPI's", (dist.get_rank(), dist.get_world_size()) == (rank, world))
expect("get_backend", dist.get_backend() == "mpi")
raises("a second init_process_group", ValueError, dist.init_process_group, "mpi")

# ---- all_reduce, in place, every op
values = np.array([1.5, -2.0, 3.0 + rank, 0.5 * (rank + 1)])
every = [np.array([1.5, -2.0, 3.0 + r, 0.5 * (r + 1)]) for r in range(world)]
expected = {dist.ReduceOp.SUM: np.sum(every, 0), dist.ReduceOp.PRODUCT: np.prod(every, 0),
            dist.ReduceOp.MIN: np.min(every, 0), dist.ReduceOp.MAX: np.max(every, 0),
            dist.ReduceOp.AVG: np.mean(every, 0)}
for op, want in expected.items():
    for dtype in (torch.float64, torch.float32):
        t = torch.tensor(values, dtype=dtype)
        expect(f"all_reduce {op} returns None", dist.all_reduce(t, op=op) is None)
        check(f"all_reduce {op} {dtype}", t.numpy(), want, 1e-6 if dtype == torch.float32 else 0)
t = torch.tensor(values)
expect("all_reduce default op is SUM", dist.all_reduce(t) is None)
check("all_reduce SUM by default", t.numpy(), expected[dist.ReduceOp.SUM], 0)
bits = [0b1100 | rank, 0b0110 + rank, 7]
for op, fold in ((dist.ReduceOp.BAND, np.bitwise_and), (dist.ReduceOp.BOR, np.bitwise_or),
                 (dist.ReduceOp.BXOR, np.bitwise_xor)):
    t = torch.tensor(bits)
    dist.all_reduce(t, op=op)
    want = fold.reduce([[0b1100 | r, 0b0110 + r, 7] for r in range(world)], 0)
    expect(f"all_reduce {op} on int64", t.tolist() == want.tolist() and t.dtype == torch.int64)
flags = torch.tensor([rank == 0, True, False])
dist.all_reduce(flags, op=dist.ReduceOp.MAX)
expect("all_reduce MAX on bool is 'or'", flags.tolist() == [True, True, False])
flags = torch.tensor([rank == 0, True, False])
dist.all_reduce(flags, op=dist.ReduceOp.MIN)
expect("all_reduce MIN on bool is 'and'", flags.tolist() == [world == 1, True, False])
raises("BAND on floats", RuntimeError, dist.all_reduce, torch.ones(2), op=dist.ReduceOp.BAND)
work = dist.all_reduce(torch.ones(2), async_op=True)
expect("async_op returns a finished Work", work.wait() and work.is_completed())
# a leaf that requires grad is reduced in place (PyTorch allows it: collectives are not
# recorded), and its version moves, so a saved copy of its old value is detected
w = torch.ones(3, requires_grad=True)
y = (w * w).sum()
dist.all_reduce(w)
check("all_reduce on a leaf", w.detach().numpy(), np.full(3, float(world)), 0)
raises("backward through a value changed by all_reduce", RuntimeError, y.backward)

# ---- broadcast, all_gather, barrier
t = torch.tensor(np.arange(4.0) * (rank + 1))
src = world - 1
expect("broadcast returns None", dist.broadcast(t, src=src) is None)
check("broadcast from the last rank", t.numpy(), np.arange(4.0) * world, 0)
mine = torch.tensor(np.full((2, 3), float(rank)), dtype=torch.float32)
gathered = [torch.zeros(2, 3) for _ in range(world)]
expect("all_gather returns None", dist.all_gather(gathered, mine) is None)
for r, g in enumerate(gathered):
    check(f"all_gather [{r}]", g.numpy(), np.full((2, 3), float(r)), 0)
raises("all_gather into a short list", RuntimeError, dist.all_gather, gathered[:-1], mine)
raises("all_gather into a wrong shape", RuntimeError, dist.all_gather,
       [torch.zeros(3) for _ in range(world)], mine)
expect("barrier", dist.barrier() is None)


# ---- DDP with PyTorch's arguments; every gradient against a local model + manual average
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.rank0_only = nn.Linear(3, 3)    # used on rank 0 only
        self.never = nn.Linear(3, 3)         # used on no rank

    def forward(self, x):
        h = self.bn(self.body(x))
        if dist.get_rank() == 0:
            h = h + self.rank0_only(h)
        return h


def expected_grads(local, xs):
    """What DDP must give: each rank's local gradient summed over micro-batches, then the
    average over ranks (zero where a rank has none; None where no rank has one)."""
    local.zero_grad()
    for x in xs:
        (local(torch.tensor(x)) ** 2).mean().backward()
    out = {}
    for name, p in local.named_parameters():
        g = np.zeros(p.shape) if p.grad is None else p.grad.numpy().astype(np.float64)
        has = sum_over_ranks([0.0 if p.grad is None else 1.0])[0]
        out[name] = None if has == 0 else sum_over_ranks(g) / world
    return out


torch.manual_seed(10 + rank)               # different on each rank: DDP broadcasts rank 0's
model = Net().double()
ddp = DDP(model, device_ids=None, output_device=None, find_unused_parameters=True,
          bucket_cap_mb=0.0001, gradient_as_bucket_view=True)
expect("several buckets", len(ddp._make_buckets()) > 2)
expect("state_dict keys start with module.", all(k.startswith("module.") for k in ddp.state_dict()))
local = Net().double()
local.load_state_dict(model.state_dict())
rng = np.random.default_rng(100 + rank)
micro = [rng.standard_normal((5, 4)) for _ in range(3)]

ddp.zero_grad()
for x in micro[:2]:
    with ddp.no_sync():
        (ddp(torch.tensor(x)) ** 2).mean().backward()
local.zero_grad()
for x in micro[:2]:
    (local(torch.tensor(x)) ** 2).mean().backward()
check("no_sync leaves the gradients local", model.body.weight.grad.numpy(),
      local.body.weight.grad.numpy(), 1e-13)
(ddp(torch.tensor(micro[2])) ** 2).mean().backward()
want = expected_grads(local, micro)
for name, p in model.named_parameters():
    if want[name] is None:
        expect(f"{name}: no gradient on any rank stays None", p.grad is None)
    else:
        check(f"{name}: averaged gradient", p.grad.numpy(), want[name], 1e-13, relative=True)
expect("a rank-0-only parameter has a gradient everywhere",
       model.rank0_only.weight.grad is not None)

# buffers: after a training forward they differ (local batches); the next forward starts
# from rank 0's (an eval forward leaves them so)
ddp.train()
ddp(torch.tensor(rng.standard_normal((6, 4))))
mean_now = model.bn.running_mean.numpy().copy()
expect("running stats differ after a local training step",
       world == 1 or not np.array_equal(sum_over_ranks(mean_now), world * mean_now))
ddp.eval()
with torch.no_grad():
    ddp(torch.tensor(np.ones((2, 4))))
mean_now = model.bn.running_mean.numpy()
expect("the next forward starts from rank 0's buffers",
       np.array_equal(sum_over_ranks(mean_now), world * mean_now))
# (an eval forward under no_grad is not followed by a buffer broadcast: PyTorch's rule)
model.bn.running_mean.array[...] = rank
ddp(torch.tensor(np.ones((2, 4))))
expect("no broadcast after a no_grad forward", model.bn.running_mean.numpy()[0] == rank)
raises("DDP with device_ids on a CPU module", ValueError, DDP, Net(), device_ids=[rank])
raises("DDP with a process group", ValueError, DDP, Net(), process_group=object())

# ---- leaving and joining again
dist.destroy_process_group()
expect("destroyed", not dist.is_initialized() and dist.get_world_size() == 1)
dist.init_process_group("mpi", rank=rank, world_size=world)
expect("joined again", dist.is_initialized() and dist.get_world_size() == world)
dist.destroy_process_group()
raises("nccl is refused", ValueError, dist.init_process_group, "nccl")
raises("a wrong world_size", ValueError, dist.init_process_group, "mpi", world_size=world + 1)
expect("a refused init leaves no group", not dist.is_initialized())
dist.init_process_group("mpi")   # (the final tally needs the group)
finish()
