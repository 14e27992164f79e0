"""fastmlp.MLPClassifier and MLPRegressor as scikit-learn estimators: scikit-learn's own
estimator checks, its model-selection tools, and scikit-learn's training objective."""
import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone, is_classifier, is_regressor  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastmlp import MLPClassifier, MLPRegressor  # noqa: E402
from fastmlp.datasets import load_toy  # noqa: E402

# short fits on purpose; tests that are about the warning catch it with pytest.warns
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# the default (float64 input computed in float64), the compiled float32 kernels, and SGD
# with a schedule, momentum, early stopping and fastmlp's own layers
ESTIMATORS = [
    MLPClassifier(), MLPRegressor(),
    MLPClassifier(dtype="float32", backend="cpp"), MLPRegressor(dtype="float32", backend="cpp"),
    # (a stratified early-stopping split needs more rows per class than some checks have)
    MLPClassifier(solver="sgd", learning_rate="adaptive", batch_norm=True, backend="numba"),
    MLPRegressor(solver="sgd", learning_rate_init=1e-3, early_stopping=True, dropout=0.1,
                 backend="numpy"),
]


@parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _circle():
    x, y, _, _ = load_toy("circle", n_train=300, n_test=10)
    return x.astype(np.float64), y


def test_grid_search_in_two_processes_equals_serial():
    x, y = _circle()
    grid = {"learning_rate_init": [1e-2, 3e-2], "hidden_layer_sizes": [(8,), (16,)]}
    est = MLPClassifier(max_iter=40, random_state=0)
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(x, y)
    parallel = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(x, y)
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  parallel.cv_results_["mean_test_score"])
    assert serial.best_params_ == parallel.best_params_
    assert serial.cv_results_["mean_test_score"].max() > 0.8


def test_fits_in_joblib_workers_use_their_share_of_the_cores(monkeypatch):
    from sklearn.model_selection import cross_validate

    from fastmlp.sweep.trial import available_cores

    monkeypatch.setenv("FASTMLP_NUM_THREADS", "8")  # inherited by the workers: not obeyed
    x, y = _circle()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        serial = cross_validate(est, x, y, cv=2)
    out = cross_validate(est, x, y, cv=2, n_jobs=2, return_estimator=True)
    assert [e.n_threads_ for e in out["estimator"]] == [max(1, available_cores() // 2)] * 2
    np.testing.assert_array_equal(out["test_score"], serial["test_score"])


def test_cross_val_score_and_pipeline_equal_serial_fits():
    x, y = _circle()
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    scores = cross_val_score(est, x, y, cv=3)
    assert np.array_equal(scores, cross_val_score(est, x, y, cv=3, n_jobs=2))
    pipe = make_pipeline(StandardScaler(), clone(est)).fit(x, y)
    by_hand = clone(est).fit(StandardScaler().fit_transform(x), y)
    np.testing.assert_array_equal(pipe.predict_proba(x),
                                  by_hand.predict_proba(StandardScaler().fit(x).transform(x)))
    assert is_classifier(pipe) and is_regressor(MLPRegressor())


def test_scikit_learn_parameter_names_are_all_accepted():
    from sklearn.neural_network import MLPClassifier as SkClassifier
    from sklearn.neural_network import MLPRegressor as SkRegressor

    for ours, theirs in ((MLPClassifier, SkClassifier), (MLPRegressor, SkRegressor)):
        missing = set(theirs().get_params()) - set(ours().get_params()) - {"loss"}
        assert not missing
        assert {"backend", "init", "dropout", "batch_norm", "matmul_precision"} <= set(
            ours().get_params())


@pytest.mark.parametrize("outputs", [1, 2])
def test_one_step_follows_scikit_learns_objective(outputs):
    """One SGD step from the same weights moves them as scikit-learn's MLPRegressor does:
    output deltas (f(x) - y) / batch, weight gradients plus alpha * W / batch, and a reported
    loss of half the mean squared error plus 0.5 * alpha * ||W||^2 / batch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3))
    y = rng.standard_normal((10, outputs))
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0, alpha=0.5,
                       learning_rate_init=0.1, batch_size=10, shuffle=False, max_iter=1,
                       random_state=0, backend="numpy")
    first = clone(est)
    first._check_params()
    first._initialize(3, outputs, np.dtype(np.float64), sklearn.utils.check_random_state(0))
    w1, b1 = first.coefs_[0].copy(), first.intercepts_[0].copy()
    w2, b2 = first.coefs_[1].copy(), first.intercepts_[1].copy()
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        est.fit(x, y if outputs > 1 else y[:, 0])
    h = np.maximum(x @ w1 + b1, 0)
    out = h @ w2 + b2
    d2 = (out - y) / 10
    g2 = h.T @ d2 + 0.5 * w2 / 10
    d1 = (d2 @ w2.T) * (h > 0)
    g1 = x.T @ d1 + 0.5 * w1 / 10
    np.testing.assert_allclose(est.coefs_[1], w2 - 0.1 * g2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(est.coefs_[0], w1 - 0.1 * g1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(est.intercepts_[1], b2 - 0.1 * d2.sum(0), rtol=1e-12)
    loss = 0.5 * np.mean((out - y) ** 2) + 0.25 * ((w1 ** 2).sum() + (w2 ** 2).sum()) / 10
    assert est.loss_curve_[0] == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("outputs", [1, 3])
def test_sgd_epochs_match_scikit_learns_own_regressor(outputs):
    """From the same weights, three epochs of Nesterov SGD in batches (constant learning
    rate) give scikit-learn's MLPRegressor's weights and loss curve, to rounding."""
    from sklearn.neural_network import MLPRegressor as SkRegressor

    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    y = rng.standard_normal((40, outputs))
    y = y if outputs > 1 else y[:, 0]
    common = dict(hidden_layer_sizes=(5,), activation="tanh", solver="sgd", alpha=0.3,
                  momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05,
                  batch_size=16, shuffle=False, max_iter=3, random_state=0, tol=0)
    ours = MLPRegressor(**common, backend="numpy")
    ours._check_params()
    ours._initialize(3, outputs, np.dtype(np.float64), sklearn.utils.check_random_state(0))
    start = [a.copy() for a in (*ours.coefs_, *ours.intercepts_)]
    theirs = SkRegressor(**{**common, "max_iter": 1}, warm_start=True)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        ours.set_params(warm_start=True).fit(x, y)
        theirs.fit(x, y)
        theirs.coefs_ = [a.copy() for a in start[:2]]
        theirs.intercepts_ = [a.copy() for a in start[2:]]
        theirs.set_params(max_iter=3, warm_start=True)
        theirs.loss_curve_ = []
        theirs.fit(x, y)
    for a, b in zip([*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_[-3:], theirs.loss_curve_[-3:], rtol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sgd_epochs_match_scikit_learns_own_classifier(n_classes):
    """Binary (one logistic output) and multiclass (softmax): the same weights after three
    epochs as scikit-learn's MLPClassifier from the same start, and the same loss curve."""
    from sklearn.neural_network import MLPClassifier as SkClassifier

    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 3))
    y = np.arange(40) % n_classes
    common = dict(hidden_layer_sizes=(5,), activation="relu", solver="sgd", alpha=0.1,
                  momentum=0.5, nesterovs_momentum=False, learning_rate_init=0.1,
                  batch_size=16, shuffle=False, max_iter=3, random_state=0, tol=0)
    ours = MLPClassifier(**common, backend="numpy", warm_start=True)
    ours.classes_ = np.unique(y)
    ours._check_params()
    ours._initialize(3, 1 if n_classes == 2 else n_classes, np.dtype(np.float64),
                     sklearn.utils.check_random_state(0))
    theirs = SkClassifier(**{**common, "max_iter": 1}, warm_start=True)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        theirs.fit(x, y)  # initializes
    theirs.coefs_ = [w.copy() for w in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    theirs.loss_curve_ = []
    theirs.set_params(max_iter=3)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        ours.fit(x, y)
        theirs.fit(x, y)
    for a, b in zip([*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_[-3:], theirs.loss_curve_[-3:], rtol=1e-10)


def test_fit_predict_score_with_string_labels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2)).astype(np.float32)
    y = np.where(x[:, 0] + x[:, 1] > 0, "pos", "neg")
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, batch_size=32,
                        learning_rate_init=1e-2, n_iter_no_change=30, random_state=0,
                        backend="numpy")
    assert clf.fit(x, y) is clf
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.score(x, y) > 0.95
    proba = clf.predict_proba(x[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert len(clf.loss_curve_) == clf.n_iter_ == 30


def test_parameters_are_scikit_learns():
    clf = MLPClassifier()
    assert clf.get_params()["max_iter"] == 200  # scikit-learn's default
    clf.set_params(max_iter=3)
    assert clf.max_iter == 3
    with pytest.raises(ValueError, match="Invalid parameter 'epochs'"):
        clf.set_params(epochs=3)


def test_refusals_name_the_problem():
    x, y = _circle()
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(x)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(x)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier(max_iter=2).fit(x[:3], y[:2])
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(max_iter=2).fit(x, np.linspace(0, 1, len(x)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier(max_iter=2).fit(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="solver must be one of adam, sgd.*L-BFGS"):
        MLPClassifier(solver="lbfgs").fit(x, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(x, y)
    xn = x.copy()
    xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier(max_iter=2).fit(xn, y)


def test_column_vector_targets_are_ravelled_with_scikit_learns_warning():
    x, y = _circle()
    with pytest.warns(sklearn.exceptions.DataConversionWarning):
        MLPClassifier(max_iter=2).fit(x, y[:, None])


def test_partial_fit_warm_start_and_early_stopping_attributes():
    x, y = _circle()
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        clf.partial_fit(x, y, classes=[0, 1])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3 and clf.t_ == 3 * len(x)
    es = MLPClassifier(early_stopping=True, n_iter_no_change=2, max_iter=200,
                       random_state=0).fit(x, y)
    assert len(es.validation_scores_) == es.n_iter_ < 200
    assert es.best_validation_score_ == max(es.validation_scores_)
    warm = MLPClassifier(max_iter=5, warm_start=True, random_state=0)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        warm.fit(x, y).fit(x, y)
    assert warm.n_iter_ == 10


def test_estimator_pickles_without_workspaces_and_predicts_after_a_memory_map(tmp_path):
    joblib = pytest.importorskip("joblib")
    x, y = _circle()
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        clf.fit(x, y)
    want = clf.predict_proba(x)
    params = clf.model_.params.nbytes
    # parameters plus Adam's two moments, and a few kB of configuration
    assert len(pickle.dumps(clf)) < 3 * params + 8192
    joblib.dump(clf, tmp_path / "clf.joblib")
    back = joblib.load(tmp_path / "clf.joblib", mmap_mode="r")
    np.testing.assert_array_equal(back.predict_proba(x), want)
    back.partial_fit(x, y)  # trains: its parameters and moments are writable copies
    clf.partial_fit(x, y)
    np.testing.assert_array_equal(back.predict_proba(x), clf.predict_proba(x))


def test_import_fastmlp_works_without_scikit_learn_and_the_estimators_name_the_extra():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import fastmlp\n"
            "try:\n    fastmlp.MLPClassifier\nexcept ImportError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fastmlp[sklearn]" in r.stdout
