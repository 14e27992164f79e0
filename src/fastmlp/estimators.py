"""scikit-learn estimators: MLPClassifier and MLPRegressor around MLP.

They take scikit-learn's MLPClassifier / MLPRegressor parameters with scikit-learn's
meanings (the same training objective, stopping rules and fitted attributes), plus
fastmlp's own (backend, init, dropout, batch_norm, matmul_precision, dtype), and validate
input the way scikit-learn's estimators do. scikit-learn is an optional dependency:
``pip install "fastmlp[sklearn]"``.

What differs from scikit-learn: the optimizers follow torch's update rules (fastmlp.optim);
they equal scikit-learn's at a constant learning rate except for where Adam adds epsilon
(outside the bias-corrected root, as torch does). Weights start by `init` (default "he").
solver="lbfgs" is not offered (max_fun is accepted and, as in scikit-learn for the other
solvers, unused).
"""
from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("fastmlp.MLPClassifier and fastmlp.MLPRegressor need scikit-learn: "
                      'pip install "fastmlp[sklearn]"') from exc

from .backends import get_num_threads, set_num_threads
from .backends.bfloat16 import backend_matmul_precision
from .model import MLP
from .optim import SGD, Adam
from .sweep.trial import available_cores, share_of_cores

# scikit-learn's activation names -> fastmlp's (which also takes its own names)
ACTIVATION_NAMES = {"logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                    "sigmoid": "sigmoid", "leaky_relu": "leaky_relu"}
SOLVERS = ("adam", "sgd")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
AUTO_BATCH_SIZE = 200  # batch_size="auto" is min(200, n_samples), as in scikit-learn
ADAPTIVE_MIN_LR = 1e-6  # "adaptive" stops once the learning rate falls below this
ADAPTIVE_DIVISOR = 5.0


def _worker_threads():
    """Threads for a fit in a joblib (loky) or Dask worker process, None elsewhere.

    Both pools give their workers OMP_NUM_THREADS = the worker's share of the cores (loky:
    cores // n_jobs; Dask's nanny: 1); without it, the cores over the worker's task slots.
    This share replaces an inherited FASTMLP_NUM_THREADS, which was meant for one process.
    """
    from joblib.externals.loky.process_executor import _CURRENT_DEPTH

    slots = 1
    if _CURRENT_DEPTH == 0:  # not in a loky worker: perhaps in a Dask one
        try:
            from distributed import get_worker

            slots = get_worker().state.nthreads
        except (ImportError, ValueError, AttributeError):
            return None
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return share_of_cores(slots)


class _BaseMLP(BaseEstimator):
    """The training shared by both estimators; subclasses say what the outputs mean."""

    _loss_scale = 1.0  # fastmlp's loss times this is scikit-learn's (its squared error is halved)

    def _grad_scale(self):
        """fastmlp's gradient times this is the one scikit-learn steps along."""
        return 1.0

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend=None, init="he", dropout=0.0, batch_norm=False,
                 matmul_precision=None, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend
        self.init = init
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.matmul_precision = matmul_precision
        self.dtype = dtype

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self):
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        if sizes.ndim != 1 or not all(isinstance(h, Integral) and h > 0 for h in sizes.tolist()):
            raise ValueError("hidden_layer_sizes must be positive integers, got "
                             f"{self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}, got "
                             f"{self.activation!r} (fastmlp's hidden layers are not linear)")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {self.solver!r}"
                             + (" (fastmlp has no L-BFGS)" if self.solver == "lbfgs" else ""))
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(f"learning_rate must be one of {', '.join(LEARNING_RATES)}, got "
                             f"{self.learning_rate!r}")
        for name, low in (("alpha", 0.0), ("power_t", 0.0), ("tol", 0.0)):
            value = getattr(self, name)
            if not isinstance(value, Real) or not value >= low:
                raise ValueError(f"{name} must be a number >= {low}, got {value!r}")
        if not isinstance(self.learning_rate_init, Real) or not self.learning_rate_init > 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init!r}")
        for name in ("max_iter", "n_iter_no_change", "max_fun"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (self.batch_size == "auto"
                or (isinstance(self.batch_size, Integral) and self.batch_size >= 1)):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got "
                             f"{self.batch_size!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{self.validation_fraction!r}")
        if self.dtype not in (None, "float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(AUTO_BATCH_SIZE, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped", UserWarning)
        return min(int(self.batch_size), n)

    def _compute_dtype(self, X):
        """None follows the input as scikit-learn does; float32 runs the compiled kernels."""
        return np.dtype(self.dtype) if self.dtype is not None else X.dtype

    # -- training --------------------------------------------------------------------------
    def _initialize(self, n_features, n_outputs, dtype, random_state):
        sizes = [n_features, *[int(h) for h in np.atleast_1d(self.hidden_layer_sizes)],
                 n_outputs]
        self.model_ = MLP(sizes, activation=ACTIVATION_NAMES[self.activation], init=self.init,
                          seed=random_state.randint(np.iinfo(np.int32).max), dtype=dtype,
                          backend=self.backend, loss=self._engine_loss(n_outputs),
                          dropout=self.dropout, batch_norm=self.batch_norm)
        self.n_layers_ = len(sizes)
        self.n_outputs_ = n_outputs
        self.out_activation_ = self._out_activation(n_outputs)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._optimizer = self._make_optimizer()

    def _make_optimizer(self):
        if self.solver == "adam":
            return Adam(self.model_, lr=self.learning_rate_init,
                        betas=(self.beta_1, self.beta_2), eps=self.epsilon)
        return SGD(self.model_, lr=self.learning_rate_init, momentum=self.momentum,
                   nesterov=bool(self.nesterovs_momentum and self.momentum > 0))

    def _step(self, xb, yb, rng):
        """One minibatch step on scikit-learn's objective: the loss plus
        0.5 * alpha * ||W||^2 / batch over the weights (not the biases)."""
        model, k = self.model_, xb.shape[0]
        loss = model.loss_and_grad(xb, yb, rng=rng) * self._loss_scale
        if self._grad_scale() != 1.0:
            model.grads *= model.dtype.type(self._grad_scale())
        if self.alpha:
            scale = self.alpha / k
            penalty = 0.0
            for w, g in zip(model.weights, model.weight_grads):
                penalty += float(np.dot(w.ravel(), w.ravel()))
                g += model.dtype.type(scale) * w
            loss += 0.5 * scale * penalty
        self._optimizer.step()
        return loss

    def _fit(self, X, y, incremental):
        self._check_params()
        threads = _worker_threads()
        if threads is not None and threads != get_num_threads():
            set_num_threads(threads)
        self.n_threads_ = get_num_threads() or available_cores()
        random_state = check_random_state(self.random_state)
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        y = self._encode_targets(y, first=first and not incremental)
        dtype = self._compute_dtype(X) if first else self.model_.dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        if first:
            self._initialize(X.shape[1], self._n_outputs(y), dtype, random_state)
        elif not incremental:  # warm start: scikit-learn starts a fresh optimizer per fit
            self._optimizer = self._make_optimizer()
            if self.early_stopping and self.validation_scores_ is None:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
        y = self.model_.check_targets(y, X.shape[0])
        model = self.model_
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            stratify = y if self._is_classifier() else None
            X, X_val, y, y_val = train_test_split(X, y, random_state=random_state,
                                                  test_size=self.validation_fraction,
                                                  stratify=stratify)
            X, y = np.ascontiguousarray(X), np.ascontiguousarray(y)
        n = X.shape[0]
        batch_size = self._batch_size(n)
        min_batch = model.min_train_batch
        rng = np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
        xb = np.empty((batch_size, X.shape[1]), dtype)
        yb = np.empty((batch_size, *y.shape[1:]), y.dtype)
        order = np.arange(n)
        best_state = None
        with backend_matmul_precision(model.backend, self.matmul_precision):
            for _ in range(1 if incremental else self.max_iter):
                if self.shuffle:
                    order = rng.permutation(n)
                total = 0.0
                for start in range(0, n, batch_size):
                    idx = order[start:start + batch_size]
                    k = idx.shape[0]
                    if k < min_batch:
                        continue
                    np.take(X, idx, axis=0, out=xb[:k])
                    np.take(y, idx, axis=0, out=yb[:k])
                    total += self._step(xb[:k], yb[:k], rng) * k
                self.n_iter_ += 1
                self.t_ += n
                self.loss_ = total / n
                self.loss_curve_.append(self.loss_)
                if not np.isfinite(self.loss_):
                    raise ValueError("training diverged: the loss is not finite (lower "
                                     "learning_rate_init, or scale the inputs)")
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if early_stopping:
                    if self._update_validation(X_val, y_val):
                        best_state = model.get_state()
                else:
                    self._update_training_loss()
                if self.learning_rate == "invscaling" and self.solver == "sgd":
                    self._optimizer.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._trigger_stopping(early_stopping):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                                  "reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning)
        if best_state is not None:
            model.set_state(best_state)
        return self

    def _update_validation(self, X_val, y_val):
        """scikit-learn's early stopping: score on the held-out data; True when it is best."""
        score = float(self._score_encoded(X_val, y_val))
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _update_training_loss(self):
        if self.best_loss_ is None:  # fitted with early stopping, now trained on by partial_fit
            self.best_loss_ = np.inf
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _trigger_stopping(self, early_stopping):
        what = "Validation score" if early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if self._optimizer.lr > ADAPTIVE_MIN_LR:
                self._optimizer.lr /= ADAPTIVE_DIVISOR
                if self.verbose:
                    print(f"{msg} Setting learning rate to {self._optimizer.lr:f}")
                return False
            msg += " Learning rate too small. Stopping."
        if self.verbose:
            print(msg + " Stopping.")
        return True

    def _validate_fit_data(self, X, y, reset):
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=(np.float64, np.float32),
                             multi_output=self._multi_output, y_numeric=not self._is_classifier(),
                             reset=reset)
        return X, y

    def fit(self, X, y):
        """Fits the network to (X, y) from scratch (or, with warm_start, from where it is)."""
        reset = not (self.warm_start and hasattr(self, "model_"))
        X, y = self._validate_fit_data(X, y, reset=reset)
        return self._fit(X, y, incremental=False)

    def _raw_outputs(self, X):
        """The last layer's outputs, in X's dtype (float32 or float64) as scikit-learn keeps
        it, whatever dtype the network computes in."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, accept_sparse=False, dtype=(np.float64, np.float32),
                          reset=False)
        with backend_matmul_precision(self.model_.backend, self.matmul_precision):
            out = self.model_.logits(np.ascontiguousarray(X, dtype=self.model_.dtype))
        return out.astype(X.dtype, copy=False)

    # -- scikit-learn's view of the parameters ------------------------------------------------
    @property
    def coefs_(self):
        """Weight matrices as scikit-learn lays them out, (fan_in, fan_out): views."""
        check_is_fitted(self, "model_")
        return [w.T for w in self.model_.weights]

    @property
    def intercepts_(self):
        check_is_fitted(self, "model_")
        return list(self.model_.biases)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _is_classifier(self):
        return False


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier: softmax cross-entropy (two classes: one logistic
    output with binary cross-entropy), as scikit-learn's MLPClassifier.

    Labels may be any sortable values (ints, strings); ``classes_`` maps outputs to them.
    """

    _multi_output = False

    def _is_classifier(self):
        return True

    def _engine_loss(self, n_outputs):
        return "bce" if n_outputs == 1 else "cross_entropy"

    def _out_activation(self, n_outputs):
        return "logistic" if n_outputs == 1 else "softmax"

    def _n_outputs(self, y):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _encode_targets(self, y, first):
        if type_of_target(y) == "multilabel-indicator":
            raise ValueError("multilabel targets are not supported: y must be 1-D class labels")
        check_classification_targets(y)
        if first:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError("a classifier needs samples of at least 2 classes; got 1 "
                                 f"class: {classes[0]!r}")
            self.classes_ = classes
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels not in classes_ {self.classes_.tolist()}: "
                             f"{unknown.tolist()}")
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y). The first call needs every class in `classes`."""
        first = not hasattr(self, "model_")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = np.unique(classes)
            if len(classes) < 2:
                raise ValueError("a classifier needs at least 2 classes; got 1")
            self.classes_ = classes
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {list(classes)} differ from the first call's "
                             f"{self.classes_.tolist()}")
        X, y = self._validate_fit_data(X, y, reset=first)
        if first:  # the classes are known: _fit keeps them
            self._check_params()
            y_enc = self._encode_targets(y, first=False)
            self._initialize(X.shape[1], self._n_outputs(y_enc), self._compute_dtype(X),
                             check_random_state(self.random_state))
        return self._fit(X, y, incremental=True)

    def _score_encoded(self, X, y):
        return np.mean(self.model_.predict(X) == y)

    def predict_proba(self, X):
        """Class probabilities, (n_samples, n_classes), in columns ordered as classes_."""
        check_is_fitted(self, "model_")
        out = self._raw_outputs(X)
        return self.model_.loss.probabilities(out).astype(out.dtype, copy=False)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        check_is_fitted(self, "model_")
        return self.classes_[self.model_.loss.predict(self._raw_outputs(X))]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor: linear outputs, squared error (one or several
    outputs), as scikit-learn's MLPRegressor; loss_curve_ is half the mean squared error."""

    _multi_output = True
    _loss_scale = 0.5  # scikit-learn reports mean((y - f(x))**2) / 2 over every output

    def _grad_scale(self):
        # fastmlp's gradient, 2 (f(x) - y) / (batch * outputs), against scikit-learn's
        # (f(x) - y) / batch: the gradient of its loss times the number of outputs
        return 0.5 * self.n_outputs_

    def _engine_loss(self, n_outputs):
        return "squared_error"

    def _out_activation(self, n_outputs):
        return "identity"

    def _n_outputs(self, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def _encode_targets(self, y, first):
        return y

    def partial_fit(self, X, y):
        """One epoch over (X, y)."""
        X, y = self._validate_fit_data(X, y, reset=not hasattr(self, "model_"))
        return self._fit(X, y, incremental=True)

    def _score_encoded(self, X, y):
        from sklearn.metrics import r2_score

        return r2_score(y, self.model_.logits(X))

    def predict(self, X):
        out = self._raw_outputs(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
