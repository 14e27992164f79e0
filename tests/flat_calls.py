"""The fused kernels called with the network's arrays as argument lists: a backend takes
them as one NetworkState and the extension as one fastmlp._cpp.Network, both built here
from those lists, so a test can call the binding and a backend the same way."""
from fastmlp.backends import NetworkState


def forward_backward(backend, x, labels, weights, biases, weight_grads, bias_grads, acts, grads,
                     activation):
    """backend.forward_backward on a NetworkState with x's row count as its batch size."""
    state = NetworkState(weights, biases, weight_grads, bias_grads, acts, grads, activation,
                         x.shape[0])
    return backend.forward_backward(x, labels, state)


def adam_train_steps(backend, x, labels, order, start, batch_size, steps, xb, yb, weights,
                     biases, weight_grads, bias_grads, acts, grads, activation, params,
                     param_grads, m, v, lr, beta1, beta2, eps, t0, weight_decay, losses,
                     correct=None):
    """backend.adam_train_steps on a NetworkState of the given arrays."""
    state = NetworkState(weights, biases, weight_grads, bias_grads, acts, grads, activation,
                         batch_size, params=params, param_grads=param_grads, m=m, v=v, xb=xb,
                         yb=yb)
    return backend.adam_train_steps(x, labels, order, start, steps, state, lr, beta1, beta2,
                                    eps, t0, weight_decay, losses, correct)


def binding_forward_backward(x, labels, weights, biases, weight_grads, bias_grads, acts, grads,
                             activation):
    """fastmlp._cpp.forward_backward on a Network with x's row count as its batch size."""
    from fastmlp import _cpp
    network = _cpp.Network(weights, biases, weight_grads, bias_grads, acts, grads, activation,
                           x.shape[0])
    return _cpp.forward_backward(network, x, labels)


def binding_adam_train_steps(x, labels, order, start, batch_size, steps, xb, yb, weights,
                             biases, weight_grads, bias_grads, acts, grads, activation, params,
                             param_grads, m, v, lr, beta1, beta2, eps, t0, weight_decay, losses,
                             correct=None):
    """fastmlp._cpp.adam_train_steps on a Network of the given arrays."""
    from fastmlp import _cpp
    network = _cpp.Network(weights, biases, weight_grads, bias_grads, acts, grads, activation,
                           batch_size, params=params, param_grads=param_grads, m=m, v=v, xb=xb,
                           yb=yb)
    _cpp.adam_train_steps(network, x, labels, order, start, steps, lr, beta1, beta2, eps, t0,
                          weight_decay, losses, correct)
    return losses
