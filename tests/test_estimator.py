"""The scikit-learn style MLPClassifier."""
import numpy as np
import pytest

from fastmlp.estimator import MLPClassifier


def test_fit_predict_score_with_string_labels():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, batch_size=32,
                        learning_rate_init=1e-2, random_state=0, backend="numpy")
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.score(X, y) > 0.95
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1)
    assert len(clf.loss_curve_) == 30


def test_params_and_errors():
    clf = MLPClassifier()
    assert clf.get_params()["max_iter"] == 10
    clf.set_params(max_iter=3)
    assert clf.max_iter == 3
    with pytest.raises(ValueError, match="invalid parameter 'epochs'"):
        clf.set_params(epochs=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="y must have shape"):
        clf.fit(np.zeros((3, 2)), [0, 1])
