"""A scikit-learn style classifier (fit / predict / score) around MLP and train.

Follows scikit-learn's estimator conventions (constructor stores hyperparameters only,
``get_params``/``set_params``, fitted attributes end in ``_``) without depending on it.
"""
from __future__ import annotations

import inspect

import numpy as np

from .model import MLP
from .train import train


class MLPClassifier:
    """Multilayer perceptron classifier trained with Adam on softmax cross-entropy.

    Labels may be any sortable values (ints, strings); ``classes_`` maps output units to them.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", init="he",
                 batch_size=128, learning_rate_init=1e-3, max_iter=10, alpha=0.0,
                 random_state=None, backend=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.alpha = alpha  # L2 penalty, as weight_decay
        self.random_state = random_state
        self.backend = backend
        self.verbose = verbose

    @classmethod
    def _param_names(cls):
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"invalid parameter {name!r} for MLPClassifier; "
                                 f"valid: {', '.join(self._param_names())}")
            setattr(self, name, value)
        return self

    def fit(self, X, y):
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        sizes = [X.shape[1], *[int(h) for h in np.atleast_1d(self.hidden_layer_sizes)],
                 max(len(self.classes_), 2)]
        seed = self.random_state
        self.model_ = MLP(sizes, activation=self.activation, init=self.init, seed=seed,
                          backend=self.backend)
        self.history_ = train(self.model_, X, encoded.astype(np.int64), epochs=self.max_iter,
                              batch_size=self.batch_size, lr=self.learning_rate_init,
                              weight_decay=self.alpha, seed=0 if seed is None else seed,
                              progress=self.verbose, eval_train=False)
        self.n_features_in_ = X.shape[1]
        self.loss_curve_ = list(self.history_.loss)
        return self

    def _fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("this MLPClassifier is not fitted yet; call fit(X, y) first")
        return self.model_

    def predict_proba(self, X):
        model = self._fitted()
        return model.predict_proba(np.asarray(X))[:, :len(self.classes_)]

    def predict(self, X):
        model = self._fitted()
        return self.classes_[model.predict(np.asarray(X))]

    def score(self, X, y):
        """Mean accuracy on (X, y)."""
        return float(np.mean(self.predict(X) == np.asarray(y)))
