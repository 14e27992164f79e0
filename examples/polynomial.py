"""Regression: fit the curve y = 5x^2 (the polynomial-fitting notebook's) with an MLP.

Linear outputs trained on the mean squared error against the real-valued targets, in the
engine (fastmlp.MLP + fastmlp.train); the same fit is MLPRegressor's with scikit-learn.
Run:  python examples/polynomial.py [--plot fit.png] [--backend cpp]
"""
import argparse

import numpy as np

import fastmlp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="draw the data and the fitted curve here")
    parser.add_argument("--backend", help="numpy, numba or cpp (default: the fastest)")
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()

    # 1000 training and 200 test points x in [-1, 1], y = 5 x^2 plus a little noise
    x, y, x_test, y_test = fastmlp.datasets.load_toy("polynomial", n_train=1000, n_test=200,
                                                     noise=0.05)
    model = fastmlp.MLP([1, 32, 32, 1], activation="tanh", init="xavier", seed=0,
                        loss="squared_error", backend=args.backend)
    history = fastmlp.train(model, x, y, x_test, y_test, epochs=args.epochs, batch_size=32,
                            lr=0.01, progress=False, eval_train=False)
    print(f"{model}\ntest MSE after {history.epochs} epochs: {history.test_loss[-1]:.5f} "
          f"(noise variance {0.05 ** 2:.5f})")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        grid = np.linspace(-1, 1, 200, dtype=np.float32)[:, None]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(x[:, 0], y, s=4, alpha=0.4, label="training data")
        ax.plot(grid[:, 0], 5 * grid[:, 0] ** 2, "k--", lw=1, label="y = 5x²")
        ax.plot(grid[:, 0], model.predict(grid)[:, 0], "r", lw=2, label="MLP fit")
        ax.set(xlabel="x", ylabel="y", title="fastmlp regression")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
