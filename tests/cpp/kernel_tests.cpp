// C++ kernel tests, no Python needed: the GEMM against a naive double-precision reference
// over odd shapes (transposes, alpha/beta, sizes that are no multiple of any tile), and the
// fused kernels (softmax cross-entropy, activations forward and backward, the Adam step)
// against scalar references, on every ISA path this CPU runs. Within one path the results
// must also be bitwise the same on 1 and on several threads (when built with OpenMP).
// Built with -DFASTMLP_BUILD_KERNEL_TESTS=ON (tools/kernel_tests.sh; tools/cross_aarch64.sh
// runs it under qemu-aarch64). Exit status 0 when every check passes.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gemm/gemm.h"
#include "kernels/activations.h"
#include "kernels/losses.h"
#include "kernels/optimizers.h"
#include "runtime/isa.h"
#include "runtime/openmp.h"
#include "runtime/settings.h"

using namespace fastmlp;
using i64 = std::int64_t;

namespace {

int g_failures = 0, g_checks = 0;
std::string g_context;  // the path and case being checked, for failure messages

void check(bool ok, const char* what, double got, double want, double tol) {
  ++g_checks;
  if (ok) return;
  if (++g_failures <= 20)
    std::printf("FAIL [%s] %s: got %.9g, want %.9g (tolerance %.3g)\n", g_context.c_str(), what,
                got, want, tol);
}

void check_close(const char* what, double got, double want, double tol) {
  check(std::fabs(got - want) <= tol, what, got, want, tol);
}

std::vector<float> random_floats(std::mt19937& rng, i64 n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Runs `run` on 1 thread and on `threads`, returns the 1-thread output; checks the two agree
// bit for bit (splits are only ever into disjoint outputs).
template <class Run>
std::vector<float> on_one_and_many(int threads, Run run) {
  set_num_threads(1);
  std::vector<float> one = run();
  set_num_threads(threads);
  std::vector<float> many = run();
  ++g_checks;
  if (one.size() != many.size() ||
      std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) != 0) {
    ++g_failures;
    std::printf("FAIL [%s] 1 thread and %d threads differ\n", g_context.c_str(), threads);
  }
  return one;
}

// -- GEMM ----------------------------------------------------------------------------------

void test_gemm_case(std::mt19937& rng, int threads, i64 m, i64 n, i64 k, bool ta, bool tb,
                    float alpha, float beta) {
  char name[96];
  std::snprintf(name, sizeof name, "%s gemm m=%lld n=%lld k=%lld ta=%d tb=%d a=%g b=%g",
                isa_name(active_isa()), static_cast<long long>(m), static_cast<long long>(n),
                static_cast<long long>(k), ta, tb, alpha, beta);
  g_context = name;
  const std::vector<float> a = random_floats(rng, m * k), b = random_floats(rng, k * n);
  const std::vector<float> c0 = random_floats(rng, m * n);
  const i64 lda = ta ? m : k, ldb = tb ? k : n;
  auto op_a = [&](i64 i, i64 p) { return static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]); };
  auto op_b = [&](i64 p, i64 j) { return static_cast<double>(tb ? b[j * ldb + p] : b[p * ldb + j]); };
  const std::vector<float> c = on_one_and_many(threads, [&] {
    std::vector<float> out = c0;
    GemmProblem p;
    p.a = a.data(), p.lda = lda, p.trans_a = ta;
    p.b = b.data(), p.ldb = ldb, p.trans_b = tb;
    p.c = out.data(), p.ldc = n, p.m = m, p.n = n, p.k = k, p.alpha = alpha, p.beta = beta;
    gemm(p);
    return out;
  });
  for (i64 i = 0; i < m; ++i)
    for (i64 j = 0; j < n; ++j) {
      double exact = 0.0, magnitude = 0.0;
      for (i64 p = 0; p < k; ++p) {
        exact += op_a(i, p) * op_b(p, j);
        magnitude += std::fabs(op_a(i, p) * op_b(p, j));
      }
      const double c_in = beta == 0.0f ? 0.0 : c0[i * n + j];  // beta == 0: C is not read
      const double want = alpha * exact + beta * c_in;
      // float32 summation of k products, then alpha and beta: a rigorous rounding bound
      const double tol = 2.0 * (k + 3) * FLT_EPSILON *
                         (std::fabs(alpha) * magnitude + std::fabs(beta * c_in)) + 1e-30;
      check_close("C[i,j]", c[i * n + j], want, tol);
    }
}

void test_gemm(std::mt19937& rng, int threads) {
  // sizes around and between every tile (4x16, 6x16, 8x12, 14x32...) and cache block
  const i64 shapes[][3] = {{1, 1, 1},   {3, 5, 7},     {8, 12, 1},   {13, 17, 19},
                           {31, 33, 65}, {1, 100, 37}, {100, 1, 29}, {70, 45, 300},
                           {129, 97, 513}, {200, 260, 40}};
  const float alphas_betas[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.25f}, {2.0f, 0.0f}};
  int which = 0;
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t) {
      const auto& ab = alphas_betas[which++ % 4];
      test_gemm_case(rng, threads, s[0], s[1], s[2], t & 1, t & 2, ab[0], ab[1]);
    }
}

// -- losses and activations ----------------------------------------------------------------

void test_softmax_cross_entropy(std::mt19937& rng, int threads) {
  const i64 cases[][2] = {{1, 2}, {7, 10}, {129, 13}, {300, 3}};
  for (const auto& cs : cases) {
    const i64 n = cs[0], classes = cs[1];
    g_context = std::string(isa_name(active_isa())) + " softmax_cross_entropy n=" +
                std::to_string(n) + " classes=" + std::to_string(classes);
    const std::vector<float> logits = random_floats(rng, n * classes, -8.0f, 8.0f);
    std::vector<i64> labels(static_cast<std::size_t>(n));
    for (i64 i = 0; i < n; ++i) labels[i] = static_cast<i64>(rng() % classes);
    double loss = 0.0;
    const std::vector<float> grad = on_one_and_many(threads, [&] {
      std::vector<float> g(static_cast<std::size_t>(n * classes));
      loss = softmax_cross_entropy(logits.data(), labels.data(), n, classes, g.data());
      return g;
    });
    double want_loss = 0.0;
    for (i64 i = 0; i < n; ++i) {
      const float* z = &logits[i * classes];
      double top = z[0], sum = 0.0;
      for (i64 j = 1; j < classes; ++j) top = std::fmax(top, z[j]);
      for (i64 j = 0; j < classes; ++j) sum += std::exp(z[j] - top);
      want_loss += (top + std::log(sum) - z[labels[i]]) / n;
      for (i64 j = 0; j < classes; ++j) {
        const double want = (std::exp(z[j] - top) / sum - (j == labels[i])) / n;
        check_close("grad", grad[i * classes + j], want, 1e-6 / n);
      }
    }
    check_close("loss", loss, want_loss, 1e-5 * std::fabs(want_loss) + 1e-6);
  }
}

// A label out of range when the kernel reads it (the binding checked it, then another
// thread rewrote it) is skipped and reported as std::invalid_argument, never indexed.
void test_label_out_of_range_at_use(int threads) {
  const i64 n = 9, classes = 4;
  const std::vector<float> logits(static_cast<std::size_t>(n * classes), 0.5f);
  for (const i64 bad : {i64(-1), classes, i64(1) << 40})
    for (int t : {1, threads}) {
      g_context = std::string(isa_name(active_isa())) + " softmax_cross_entropy label " +
                  std::to_string(bad) + " threads=" + std::to_string(t);
      set_num_threads(t);
      std::vector<i64> labels(static_cast<std::size_t>(n), 1);
      labels[n - 2] = bad;
      std::vector<float> g(static_cast<std::size_t>(n * classes));
      bool threw = false;
      try {
        softmax_cross_entropy(logits.data(), labels.data(), n, classes, g.data());
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      check(threw, "throws std::invalid_argument", threw, 1.0, 0.0);
    }
}

double activation_ref(Activation act, double x) {
  switch (act) {
    case Activation::relu: return x < 0 ? 0.0 : x;
    case Activation::leaky_relu: return x > 0 ? x : kLeakyReluSlope * x;
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Activation::tanh: return std::tanh(x);
    default: return x;
  }
}

// d act / d pre, from the output y (sigmoid, tanh) or the input x (relu-like).
double derivative_ref(Activation act, double x, double y) {
  switch (act) {
    case Activation::relu: return x > 0 ? 1.0 : 0.0;
    case Activation::leaky_relu: return x > 0 ? 1.0 : kLeakyReluSlope;
    case Activation::sigmoid: return y * (1.0 - y);
    case Activation::tanh: return 1.0 - y * y;
    default: return 1.0;
  }
}

void test_activations(std::mt19937& rng, int threads) {
  const Activation acts[] = {Activation::identity, Activation::relu, Activation::leaky_relu,
                             Activation::sigmoid, Activation::tanh};
  const char* names[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh"};
  for (int a = 0; a < 5; ++a)
    for (const i64 count : {i64{1}, i64{17}, i64{1000}, i64{200003}}) {
      const Activation act = acts[a];
      g_context = std::string(isa_name(active_isa())) + " " + names[a] + " count=" +
                  std::to_string(count);
      const std::vector<float> x = random_floats(rng, count, -9.0f, 9.0f);
      const std::vector<float> grad = random_floats(rng, count);
      const std::vector<float> y = on_one_and_many(threads, [&] {
        std::vector<float> out(static_cast<std::size_t>(count));
        activation_forward(act, x.data(), out.data(), count);
        return out;
      });
      const bool relu_like = act == Activation::relu || act == Activation::leaky_relu;
      const std::vector<float>& ref = relu_like ? x : y;
      const std::vector<float> dx = on_one_and_many(threads, [&] {
        std::vector<float> out(static_cast<std::size_t>(count));
        activation_backward(act, grad.data(), ref.data(), out.data(), count);
        return out;
      });
      for (i64 i = 0; i < count; ++i) {
        const double want = activation_ref(act, x[i]);
        check_close("act(x)", y[i], want, 4 * FLT_EPSILON * std::fabs(want) + 1e-7);
        // the backward pass from the kernel's own forward output, as the backends use it
        const double want_dx = grad[i] * derivative_ref(act, x[i], y[i]);
        // tanh's 1 - y*y in float32 cancels near |y| = 1: y*y's rounding (eps * y^2) stays
        const double cancel = act == Activation::tanh ? std::fabs(grad[i]) * y[i] * y[i] : 0.0;
        check_close("grad*act'", dx[i], want_dx,
                    4 * FLT_EPSILON * (std::fabs(want_dx) + cancel) + 1e-12);
      }
    }
}

// -- optimizer -----------------------------------------------------------------------------

void test_adam(std::mt19937& rng, int threads) {
  for (const i64 n : {i64{1}, i64{33}, i64{100003}})
    for (const double wd : {0.0, 0.01}) {
      g_context = std::string(isa_name(active_isa())) + " adam_step n=" + std::to_string(n) +
                  " weight_decay=" + std::to_string(wd);
      const double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
      const i64 step = 3;
      const std::vector<float> p0 = random_floats(rng, n), grad = random_floats(rng, n);
      const std::vector<float> m0 = random_floats(rng, n, -0.1f, 0.1f);
      const std::vector<float> v0 = random_floats(rng, n, 0.0f, 0.01f);
      std::vector<float> m, v;
      const std::vector<float> p = on_one_and_many(threads, [&] {
        std::vector<float> param = p0;
        m = m0, v = v0;
        adam_step(param.data(), grad.data(), m.data(), v.data(), n, lr, beta1, beta2, eps, step, wd);
        return param;
      });
      const double bias1 = 1.0 - std::pow(beta1, step), bias2 = 1.0 - std::pow(beta2, step);
      for (i64 i = 0; i < n; ++i) {
        const double g = grad[i] + wd * p0[i];
        const double mi = beta1 * m0[i] + (1 - beta1) * g;
        const double vi = beta2 * v0[i] + (1 - beta2) * g * g;
        const double scale = lr / bias1 / (std::sqrt(vi) / std::sqrt(bias2) + eps);
        const double update = scale * mi;
        // m's two terms may cancel: its error is bounded by their sizes, not by m's
        const double m_tol = 4 * FLT_EPSILON * (beta1 * std::fabs(m0[i]) + (1 - beta1) * std::fabs(g));
        check_close("m", m[i], mi, m_tol + 1e-12);
        check_close("v", v[i], vi, 4 * FLT_EPSILON * std::fabs(vi) + 1e-15);
        // param's own rounding, a few ulp of the update, and m's error carried through it
        check_close("param", p[i], p0[i] - update,
                    FLT_EPSILON * std::fabs(p0[i]) + 16 * FLT_EPSILON * std::fabs(update) +
                        2 * scale * m_tol);
      }
    }
}

}  // namespace

int main() {
  const int threads = kBuiltWithOpenMP ? 3 : 1;
  std::printf("fastmlp kernel tests: ISA paths of this build: %s; %s\n", isa_names(),
              kBuiltWithOpenMP ? "OpenMP (1 and 3 threads)" : "built without OpenMP (1 thread)");
  for (const char* path : {"avx512", "avx2", "neon", "generic"}) {
    if (!cpu_supports(std::string(path))) continue;
    set_isa(path);
    std::mt19937 rng(12345);
    const int before = g_failures, checks = g_checks;
    test_gemm(rng, threads);
    test_softmax_cross_entropy(rng, threads);
    test_label_out_of_range_at_use(threads);
    test_activations(rng, threads);
    test_adam(rng, threads);
    std::printf("%-8s %s (%d checks)\n", path, g_failures == before ? "ok" : "FAILED",
                g_checks - checks);
  }
  std::printf("%s: %d of %d checks failed\n", g_failures ? "FAILED" : "passed", g_failures,
              g_checks);
  return g_failures ? 1 : 0;
}
