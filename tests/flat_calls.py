"""The fused kernels called with the extension binding's argument lists (as fastmlp._cpp
takes them): a backend takes the network's arrays as one NetworkState, built here from
those lists, so a test can call the binding and a backend the same way."""
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
