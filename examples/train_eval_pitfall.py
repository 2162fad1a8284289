"""What forgetting ``model.eval()`` costs a BatchNorm network at prediction time.

In training mode BatchNorm normalizes with the statistics of the batch it is given, so a
prediction depends on which other images share the batch, and on a single image it is
normalized by that one image's statistics. It also keeps updating the running averages:
predicting in training mode quietly changes the model. This trains a small conv net, then
predicts the test images in batches of 1 to 1000 in both modes, and measures how much a
training-mode pass over the test set moves the model's eval-mode accuracy.

    python examples/train_eval_pitfall.py
"""
import copy

import numpy as np
from _common import (Training, accuracy, batches, bn_mlp, load_mnist, parser, predict,
                     progress, save, setup, small_cnn, train_step)

import minigrad as mg


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000, help="training steps")
    p.add_argument("--batch-size", type=int, default=64, help="training images per step")
    p.add_argument("--eval-images", type=int, default=2000, help="test images to predict")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 64, 1000],
                   help="prediction batch sizes")
    args = p.parse_args()
    if args.quick:
        args.steps, args.eval_images, args.batch_sizes = 60, 200, [1, 4, 64]
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    x_eval, y_eval = x_test[:args.eval_images], y_test[:args.eval_images]

    model = small_cnn("batch").to(args.device)
    opt = mg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    bar = Training(args.steps, "train")
    for idx in batches(len(x_train), args.batch_size, args.steps, args.seed):
        bar.step(loss=train_step(model, opt, mg.tensor(x_train[idx]).to(args.device),
                                 mg.tensor(y_train[idx]).to(args.device)).item())
    bar.close()

    rows = []
    predicting = progress(args.batch_sizes, "predict")
    for b in predicting:
        row = {"batch_size": b,
               "eval_mode": accuracy(model, x_eval, y_eval, args.device, batch_size=b)}
        forgot = copy.deepcopy(model).train()      # the mistake, on a copy
        row["train_mode"] = float((predict(forgot, x_eval, args.device, b) == y_eval).mean())
        row["eval_mode_after"] = accuracy(forgot, x_eval, y_eval, args.device)
        rows.append(row)
        predicting.set_postfix(batch=b, eval_mode=f"{row['eval_mode']:.4f}",
                               train_mode=f"{row['train_mode']:.4f}")

    # The same images, predicted in train mode next to different neighbours.
    forgot = copy.deepcopy(model).train()
    shuffled = np.random.default_rng(args.seed).permutation(len(x_eval))
    with mg.no_grad():
        first = predict(forgot, x_eval, args.device, 16)
        again = np.empty_like(first)
        again[shuffled] = predict(forgot, x_eval[shuffled], args.device, 16)
    changed = float((first != again).mean())

    try:
        bn_mlp(batch_norm=True).to(args.device).train()(mg.tensor(x_eval[:1]).to(args.device))
        mlp_error = None
    except ValueError as e:
        mlp_error = str(e)

    print(f"{'batch':>6} {'eval mode':>10} {'train mode':>11} {'eval after':>11}")
    for r in rows:
        print(f"{r['batch_size']:>6} {r['eval_mode']:>10.4f} {r['train_mode']:>11.4f} "
              f"{r['eval_mode_after']:>11.4f}")
    print(f"train mode, batch 16: {100 * changed:.1f}% of predictions change when the "
          f"images are batched with different neighbours")
    print(f"a BatchNorm1d MLP on a single sample in train mode: {mlp_error}")
    save(args, "train_eval_pitfall", {"train_steps": args.steps, "eval_images": len(y_eval),
                                      "rows": rows, "changed_by_neighbours_batch16": changed,
                                      "bn1d_single_sample_error": mlp_error}, plot)


def plot(plt, r):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    sizes = [row["batch_size"] for row in r["rows"]]
    series = {key: [row[key] for row in r["rows"]]
              for key in ("eval_mode", "train_mode", "eval_mode_after")}
    # eval mode and eval after a train-mode pass often coincide: a wide pale line with big
    # hollow markers under a thin one with small filled markers keeps both visible
    ax.plot(sizes, series["eval_mode"], "o-", color="C0", lw=5, alpha=0.35, ms=11,
            mfc="none", mew=2, label="model.eval() (running statistics)")
    ax.plot(sizes, series["train_mode"], "s--", color="C3",
            label="forgot model.eval() (batch statistics)")
    ax.plot(sizes, series["eval_mode_after"], "^:", color="C1", ms=5,
            label="eval() after one train-mode pass")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    lo, hi = min(min(v) for v in series.values()), max(max(v) for v in series.values())
    pad = 0.1 * (hi - lo) + 0.005
    ax.set(xlabel="prediction batch size", ylabel="test accuracy",
           ylim=(max(lo - pad, 0.0), min(hi + pad, 1.0)),
           title=f"BatchNorm conv net on {r['eval_images']} test images")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))


if __name__ == "__main__":
    main()
