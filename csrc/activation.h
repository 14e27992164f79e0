// The activation functions of the Backend interface, shared by every kernel.
#pragma once

namespace fastmlp {

enum class Activation { identity, relu, leaky_relu, sigmoid, tanh };

// torch.nn.LeakyReLU's default negative slope, as base.LEAKY_RELU_SLOPE.
constexpr float kLeakyReluSlope = 0.01f;

}  // namespace fastmlp
