// The activation functions of the Backend interface, shared by every kernel.
#pragma once

namespace fastmlp {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh };

// torch.nn.LeakyReLU's default negative slope, as in the NumPy oracle.
constexpr float kLeakyReluSlope = 0.01f;

}  // namespace fastmlp
