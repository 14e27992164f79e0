"""The circle problem: points inside a circle vs outside, learned by a small MLP.

A linear model cannot separate the two classes; one or two tanh hidden layers can. The
notebooks that did not learn it usually had no hidden non-linearity, unscaled inputs or
a too-small learning rate. Run:  python examples/circle.py [--out DIR]
"""
import argparse

import fastmlp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", metavar="DIR", help="write the curves and decision regions here")
    parser.add_argument("--backend", help="numpy, numba or cpp (default: the fastest)")
    args = parser.parse_args()

    # 2000 training and 1000 test points in [-1, 1]^2, half inside a circle of radius 0.6
    x, y, x_test, y_test = fastmlp.datasets.load_toy("circle", seed=0)
    model = fastmlp.MLP([2, 16, 16, 2], activation="tanh", seed=0, backend=args.backend)
    history = fastmlp.train(model, x, y, x_test, y_test, epochs=30, batch_size=32, lr=0.01,
                            progress=False)
    print(f"{model}\ntest accuracy after {history.epochs} epochs: "
          f"{history.test_accuracy[-1]:.4f}")
    if args.out:
        from fastmlp.plots import save_training_plots

        for path in save_training_plots(args.out, history, model, x_test, y_test):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
