"""The same network trained on MNIST with each optimizer, side by side.

Every run starts from the same initial weights (seed) and sees the batches in the same
order, so only the update rule differs. Run:
    python examples/compare_optimizers.py [--epochs 3] [--out DIR]   # DIR/optimizers.png
"""
import argparse

import fastmlp

RUNS = {  # label -> (optimizer, learning rate, extra options)
    "SGD": ("sgd", 0.1, {}),
    "SGD + Nesterov momentum": ("sgd", 0.05, {"momentum": 0.9, "nesterov": True}),
    "RMSprop": ("rmsprop", 1e-3, {}),
    "Adam": ("adam", 1e-3, {}),
    "AdamW": ("adamw", 1e-3, {}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", metavar="DIR",
                        help="write the test-accuracy curves to DIR/optimizers.png")
    parser.add_argument("--samples", type=int, default=None,
                        help="train on the first SAMPLES images only (a quick look)")
    parser.add_argument("--backend", help="numpy, numba or cpp (default: the fastest)")
    args = parser.parse_args()

    x, y, x_test, y_test = fastmlp.datasets.load_mnist()
    x, y = x[:args.samples], y[:args.samples]
    histories = {}
    print(f"{'optimizer':<26}{'lr':>8}{'test acc':>10}{'s/epoch':>9}")
    for label, (name, lr, options) in RUNS.items():
        model = fastmlp.MLP([784, 256, 10], seed=0, backend=args.backend)
        h = fastmlp.train(model, x, y, x_test, y_test, epochs=args.epochs, lr=lr,
                          optimizer=name, optimizer_options=options, progress=False,
                          eval_train=False)
        histories[label] = h
        print(f"{label:<26}{lr:>8g}{h.test_accuracy[-1]:>10.4f}"
              f"{sum(h.seconds) / len(h.seconds):>9.2f}")
    if args.out:
        from pathlib import Path

        from fastmlp.plots import plot_comparison

        path = Path(args.out) / "optimizers.png"
        plot_comparison(histories, path, title="MNIST 784-256-10: test accuracy")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
