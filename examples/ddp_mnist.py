"""The cnn_mnist.py net trained data-parallel over MPI, with SyncBatchNorm.

Each rank trains on its own shard of every global batch (DistributedSampler); gradients
are averaged across ranks by DistributedDataParallel, and every BatchNorm is a
SyncBatchNorm, so its statistics are those of the global batch however few images each
rank holds. Rank 0 alone shows the progress bar and logs, and writes ddp_mnist.json (the
loss of rank 0's shard at every step, test accuracy after each epoch, throughput),
ddp_mnist.png (the loss curve) and the trained weights as ddp_mnist.npz (mg.save's format;
mg.load reads it back).

    mpiexec -n 2 python examples/ddp_mnist.py            # needs pip install 'minigrad[mpi]'
    python examples/ddp_mnist.py --quick                 # a world of one process works too
"""
import os

from _common import Training, accuracy, load_mnist, parser, save, setup
from cnn_mnist import conv_bn_net

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=32, help="images per step on each rank")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    args = p.parse_args()
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1280 * world], y_train[:1280 * world], \
            x_test[:1000], y_test[:1000]
    train = mg.data.TensorDataset(x_train, y_train)
    sampler = dist.DistributedSampler(train, shuffle=True, seed=args.seed, drop_last=True)
    loader = mg.data.DataLoader(train, batch_size=args.batch_size, sampler=sampler,
                                drop_last=True)
    if rank == 0:
        print(f"{world} rank(s): {args.batch_size} images per rank per step, global batch "
              f"{args.batch_size * world}; {len(loader)} steps per epoch")

    model = nn.SyncBatchNorm.convert_sync_batchnorm(conv_bn_net())
    ddp = dist.DistributedDataParallel(model)   # rank 0's initial weights on every rank
    opt = mg.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    bar = Training(args.epochs * len(loader), "ddp_mnist") if rank == 0 else None
    losses, accuracies = [], []
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)                 # a new shuffle, the same on every rank
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(ddp(x), y)
            loss.backward()                      # gradients averaged over ranks on return
            opt.step()
            if bar is not None:
                losses.append(loss.item())
                bar.step(loss=losses[-1])
        if rank == 0:                            # eval: running statistics, no communication
            with bar.paused():
                accuracies.append(accuracy(model, x_test, y_test))
                bar.show(test_acc=accuracies[-1])
    if rank == 0:
        bar.close()
        images = args.epochs * len(loader) * args.batch_size * world
        print(f"trained {args.epochs} epoch(s) in {bar.seconds:.1f} s on {world} rank(s) "
              f"({images / bar.seconds:.0f} images/s); test accuracy {accuracies[-1]:.4f}")
        path = os.path.join(args.out, "ddp_mnist.npz")
        mg.save(model.state_dict(), path)
        print(f"wrote {path}")
        save(args, "ddp_mnist", {
            "world_size": world, "batch_per_rank": args.batch_size,
            "global_batch": args.batch_size * world, "epochs": args.epochs,
            "steps_per_epoch": len(loader), "lr": args.lr, "train_seconds": bar.seconds,
            "images_per_second": images / bar.seconds, "test_images": len(y_test),
            "test_accuracy": accuracies, "loss": losses, "checkpoint": "ddp_mnist.npz"},
            plot)


def plot(plt, r):
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = range(1, len(r["loss"]) + 1)
    ax.plot(steps, r["loss"], lw=0.6, alpha=0.5, label="loss on rank 0's shard of each batch")
    window = max(1, len(r["loss"]) // 50)
    if window > 1:
        chunks = [r["loss"][max(0, i - window + 1):i + 1] for i in range(len(r["loss"]))]
        smooth = [sum(c) / len(c) for c in chunks]
        ax.plot(steps, smooth, lw=1.5, label=f"running mean of {window}")
    for epoch, acc in enumerate(r["test_accuracy"], 1):
        ax.axvline(epoch * r["steps_per_epoch"], color="grey", lw=0.5, ls=":")
        ax.annotate(f"test acc {acc:.4f}", (epoch * r["steps_per_epoch"], ax.get_ylim()[1]),
                    ha="right", va="top", fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title(f"ddp_mnist: {r['world_size']} rank(s) x {r['batch_per_rank']} images, "
                 f"SyncBatchNorm, {r['images_per_second']:.0f} images/s")
    ax.legend(loc="lower left", fontsize=8)


if __name__ == "__main__":
    main()
