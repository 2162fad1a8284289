"""Fine-tuning with BatchNorm frozen, trainable, or with its running statistics reset.

A conv net with BatchNorm is trained on digits 0-4. Its classifier layer is then replaced
by a fresh one and the network is fine-tuned on digits 5-9 in three ways, each starting from
the same pretrained weights:

- frozen: ``nn.utils.freeze_batchnorm`` keeps every BN in eval mode with the pretraining
  statistics and affine parameters (the usual choice for small fine-tuning batches);
- trainable: BN stays in training mode, its running statistics drift to the new digits and
  gamma/beta train with the rest;
- reset: the running statistics are reset and re-estimated as a plain average over the
  fine-tuning batches (momentum=None), BN otherwise trainable.

It reports test accuracy on both halves: digits 5-9 through the new classifier, digits 0-4
through the original classifier on top of the fine-tuned layers, which measures how much
fine-tuning disturbed what the shared layers had learned.

    python examples/finetune_frozen_bn.py
"""
import copy

from _common import (Training, accuracy, batches, load_mnist, parser, save, setup,
                     small_cnn, train_step)

import minigrad as mg
import minigrad.nn as nn

CONDITIONS = ("frozen", "trainable", "reset")


def prepare(model, condition):
    if condition == "frozen":
        nn.utils.freeze_batchnorm(model)
    elif condition == "reset":
        for m in model.modules():
            if isinstance(m, nn.modules.normalization._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
    return model


def train(model, images, labels, steps, lr, args, seed, desc):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = mg.optim.SGD(params, lr=lr, momentum=0.9)
    model.train()
    bar = Training(steps, desc)
    for idx in batches(len(images), args.batch_size, steps, seed):
        bar.step(loss=train_step(model, opt, mg.tensor(images[idx]).to(args.device),
                                 mg.tensor(labels[idx]).to(args.device)).item())
    bar.close()
    return model


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--pretrain-steps", type=int, default=1500, help="steps on digits 0-4")
    p.add_argument("--finetune-steps", type=int, default=300,
                   help="steps on digits 5-9, per condition")
    p.add_argument("--batch-size", type=int, default=32, help="images per step")
    p.add_argument("--lr", type=float, default=0.02, help="SGD learning rate (momentum 0.9)")
    args = p.parse_args()
    if args.quick:
        args.pretrain_steps, args.finetune_steps = 80, 30
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    old, new = y_train < 5, y_train >= 5
    halves = {"digits 0-4": y_test < 5, "digits 5-9": y_test >= 5}

    def evaluate(new_head, old_head):
        """Digits 5-9 through ``new_head``, digits 0-4 through ``old_head``."""
        return {name: accuracy(old_head if name == "digits 0-4" else new_head,
                               x_test[m], y_test[m], args.device)
                for name, m in halves.items()}

    base = small_cnn("batch").to(args.device)
    train(base, x_train[old], y_train[old], args.pretrain_steps, args.lr, args, args.seed,
          "pretrain on 0-4")
    results = {"pretrained": evaluate(base, base)}
    for condition in CONDITIONS:
        model = prepare(copy.deepcopy(base), condition)
        mg.manual_seed(args.seed + 1)
        model[-1] = nn.Linear(model[-1].in_features, 10).to(args.device)
        train(model, x_train[new], y_train[new], args.finetune_steps, args.lr, args,
              args.seed + 1, f"fine-tune on 5-9, BN {condition}")
        results[condition] = evaluate(model, nn.Sequential(*list(model)[:-1], base[-1]))
    print(f"{'':>11} {'digits 0-4':>10} {'digits 5-9':>10}")
    for name, acc in results.items():
        print(f"{name:>11} {acc['digits 0-4']:>10.4f} {acc['digits 5-9']:>10.4f}")
    save(args, "finetune_frozen_bn", {"pretrain_steps": args.pretrain_steps,
                                      "finetune_steps": args.finetune_steps,
                                      "batch_size": args.batch_size, "lr": args.lr,
                                      "accuracy": results}, plot)


def plot(plt, r):
    import numpy as np
    names = list(r["accuracy"])
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = np.arange(len(names))
    top = 0.0
    for i, half in enumerate(("digits 0-4", "digits 5-9")):
        vals = [r["accuracy"][n][half] for n in names]
        bars = ax.bar(x + (i - 0.5) * 0.38, vals, 0.38, label=f"test on {half}",
                      color=f"C{i}")
        ax.bar_label(bars, [f"{v:.2f}" for v in vals], fontsize=8)
        top = max(top, *vals)
    ax.set_xticks(x, ["pretrained\n(0-4)"] + [f"fine-tuned on 5-9\nBN {n}" for n in names[1:]])
    ax.set(ylabel="test accuracy", ylim=(0, 1.1 * top),      # room for the labels
           title=f"Pretrain {r['pretrain_steps']} steps on 0-4, fine-tune "
                 f"{r['finetune_steps']} steps on 5-9")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))   # beside the bars, never on them


if __name__ == "__main__":
    main()
