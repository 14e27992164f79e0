"""Regression: fit the curve y = 5x^2 (the polynomial-fitting notebook's) with an MLP.

Linear outputs trained on the mean squared error against the real-valued targets, in the
engine (fastmlp.MLP + fastmlp.train); the same fit is MLPRegressor's with scikit-learn.
Run:  python examples/polynomial.py [--plot fit.png] [--backend cpp]
(or: fastmlp train --dataset polynomial --activation tanh --lr 0.01 --batch-size 32
--epochs 200 --plots polynomial/)
"""
import argparse

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
        from fastmlp.plots import plot_regression_fit

        plot_regression_fit(model, x, y, args.plot, title="y = 5x² + noise, fitted by an MLP")
        print(f"wrote {args.plot}")

if __name__ == "__main__":
    main()
