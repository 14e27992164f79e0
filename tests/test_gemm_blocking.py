"""The C++ GEMM's cache blocking: derived from cache sizes (`_cpp.derive_gemm_blocking`, the
rule in csrc/gemm/blocking.h), reported for this CPU (`_cpp.gemm_blocking`, `fastmlp
backends`), and the GEMM itself correct under blockings from very different caches
(`_cpp.set_gemm_cache_sizes`), on every ISA path, thread count and matmul precision.

The rule: kc so the mr x kc micro-panel of A fills at most half of L1 (a multiple of 32,
32..512); nc so the kc x nc packed B block fills at most half of L2, mc so the mc x kc A
block fills at most a quarter of it (multiples of nr and mr, at least one tile, at most
4096 and 1024); a row-major B up to 2/3 of L1 is read in place; a thread gets at least a
quarter as many multiply-adds as L2 has bytes (2**16..2**24). Unknown (zero) sizes are a 32 KiB L1d
and a 256 KiB L2. mc and nc are sized for the depth of the slices a product actually uses
(a thin-K product gets wider blocks); kc never depends on the product.
"""
from __future__ import annotations

import contextlib
import itertools

import numpy as np
import pytest

from fastmlp import backends
from conftest import CONFIGS, configured
from test_cli import fastmlp as run_cli
from test_parity import EPS32, _op, _rand

_cpp = pytest.importorskip("fastmlp._cpp")

KIB, MIB = 1024, 1024 * 1024
CPP_CONFIGS = [c for c in CONFIGS if c[1] == "cpp"]

# (l1d, l2, l3) of real and made-up CPUs
CACHES = {
    "zen5": (48 * KIB, 1 * MIB, 32 * MIB),
    "zen3": (32 * KIB, 512 * KIB, 32 * MIB),
    "sapphire-rapids": (48 * KIB, 2 * MIB, 105 * MIB),
    "skylake-client": (32 * KIB, 256 * KIB, 8 * MIB),
    "tiny": (4 * KIB, 16 * KIB, 0),
    "huge": (1 * MIB, 64 * MIB, 1024 * MIB),
    "unknown": (0, 0, 0),
}
# (mr, nr, packed bytes per element, k_align) of the microkernels
TILES = {"avx512": (12, 32, 4, 1), "avx2": (6, 16, 4, 1), "generic": (4, 16, 4, 1),
         "avx512_bf16": (12, 32, 2, 2), "amx": (32, 32, 2, 32)}


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("cpu", CACHES)
def test_blocking_follows_the_rule(cpu, tile):
    l1, l2, l3 = CACHES[cpu]
    mr, nr, elem, k_align = TILES[tile]
    b = _cpp.derive_gemm_blocking(l1, l2, l3, mr, nr, elem, k_align)
    l1 = l1 or 32 * KIB
    l2 = l2 or 256 * KIB
    kc, mc, nc = b["kc"], b["mc"], b["nc"]
    assert kc % 32 == 0 and kc % k_align == 0 and 32 <= kc <= 512
    assert mr * kc * elem <= l1 // 2 or kc == 32  # the A micro-panel in half of L1 ...
    assert mr * (kc + 32) * elem > l1 // 2 or kc == 512  # ... as deep as that allows
    assert nc % nr == 0 and nr <= nc <= 4096
    assert kc * nc * elem <= l2 // 2 or nc == nr
    assert kc * (nc + nr) * elem > l2 // 2 or nc + nr > 4096
    assert mc % mr == 0 and mr <= mc <= 1024
    assert kc * mc * elem <= l2 // 4 or mc == mr
    assert kc * (mc + mr) * elem > l2 // 4 or mc + mr > 1024
    assert b["in_place_b_bytes"] == l1 * 2 // 3
    assert b["macs_per_thread"] == min(max(l2 // 4, 2 ** 16), 2 ** 24)


def test_blocking_values_worked_by_hand():
    # 48 KiB L1d, 1 MiB L2 (this Zen 5), float32 12 x 32 tile: kc = 24 Ki / 48 = 512,
    # nc = 512 Ki / (512 * 4) = 256, mc = 256 Ki / 2 Ki = 128 -> 120 (a multiple of 12)
    b = _cpp.derive_gemm_blocking(48 * KIB, MIB, 32 * MIB, 12, 32, 4, 1)
    assert (b["mc"], b["kc"], b["nc"]) == (120, 512, 256)
    assert (b["in_place_b_bytes"], b["macs_per_thread"]) == (32 * KIB, 2 ** 18)
    # AMX on Sapphire Rapids (48 KiB, 2 MiB): kc = 24 Ki / 64 = 384, nc = 1 Mi / 768 = 1365
    # -> 1344, mc = 512 Ki / 768 = 682 -> 672
    b = _cpp.derive_gemm_blocking(48 * KIB, 2 * MIB, 0, 32, 32, 2, 32)
    assert (b["mc"], b["kc"], b["nc"]) == (672, 384, 1344)
    # AVX2 on Zen 3 (32 KiB, 512 KiB): kc = 16 Ki / 24 = 682 -> capped 512, nc = 256 Ki / 2 Ki
    # = 128, mc = 64 (a multiple of 6: 60)
    b = _cpp.derive_gemm_blocking(32 * KIB, 512 * KIB, 32 * MIB, 6, 16, 4, 1)
    assert (b["mc"], b["kc"], b["nc"]) == (60, 512, 128)
    # the smallest caches still give one whole tile and one 32-deep slice
    b = _cpp.derive_gemm_blocking(1, 1, 0, 12, 32, 4, 1)
    assert (b["mc"], b["kc"], b["nc"]) == (12, 32, 32)
    # unknown sizes are the portable defaults
    assert (_cpp.derive_gemm_blocking(0, 0, 0, 6, 16)
            == _cpp.derive_gemm_blocking(32 * KIB, 256 * KIB, 0, 6, 16))
    assert (_cpp.derive_gemm_blocking(-5, -1, -1, 6, 16)
            == _cpp.derive_gemm_blocking(0, 0, 0, 6, 16))


def test_shallow_slices_get_wider_blocks_and_the_same_kc():
    # 48 KiB / 1 MiB, 12 x 32 float32: a product of depth 128 packs 128 x nc blocks of B, so
    # nc = 512 Ki / (128 * 4) = 1024 and mc = 256 Ki / 512 = 512 -> 504
    full = _cpp.derive_gemm_blocking(48 * KIB, MIB, 0, 12, 32, 4, 1)
    thin = _cpp.derive_gemm_blocking(48 * KIB, MIB, 0, 12, 32, 4, 1, 128)
    assert (thin["mc"], thin["kc"], thin["nc"]) == (504, 512, 1024)
    assert thin["kc"] == full["kc"]  # kc alone orders the sums: never the product's depth
    # deeper than kc changes nothing; depth 1 hits the caps
    assert _cpp.derive_gemm_blocking(48 * KIB, MIB, 0, 12, 32, 4, 1, 5000) == full
    tiny = _cpp.derive_gemm_blocking(48 * KIB, MIB, 0, 12, 32, 4, 1, 1)
    assert (tiny["mc"], tiny["nc"]) == (1020, 4096)


def test_blocking_grows_with_the_caches():
    sizes = [(16 * KIB, 128 * KIB), (32 * KIB, 256 * KIB), (48 * KIB, MIB), (64 * KIB, 4 * MIB)]
    for tile in TILES.values():
        blocks = [_cpp.derive_gemm_blocking(l1, l2, 0, *tile) for l1, l2 in sizes]
        for small, big in zip(blocks, blocks[1:]):
            assert big["kc"] >= small["kc"]
            assert big["kc"] * big["nc"] >= small["kc"] * small["nc"]
            assert big["kc"] * big["mc"] >= small["kc"] * small["mc"]


def test_derive_rejects_bad_tiles():
    with pytest.raises(ValueError, match="mr, nr, elem_bytes and k_align must be >= 1"):
        _cpp.derive_gemm_blocking(32 * KIB, MIB, 0, 0, 16)
    with pytest.raises(ValueError, match=">= 1"):
        _cpp.derive_gemm_blocking(32 * KIB, MIB, 0, 6, 16, 4, 0)


def test_this_cpu_reports_its_caches_and_blocking():
    b = _cpp.gemm_blocking()
    assert b["cache_source"] in ("cpuid", "sysfs", "defaults")
    assert 4 * KIB <= b["l1d"] <= b["l2"]
    assert b["l3_sharing"] >= 1
    want = _cpp.derive_gemm_blocking(b["l1d"], b["l2"], b["l3"], b["mr"], b["nr"])
    assert {k: b[k] for k in ("kc", "nc", "mc")} == {k: want[k] for k in ("kc", "nc", "mc")}
    assert (b["mr"], b["nr"]) == TILES[_cpp.isa()][:2]


@contextlib.contextmanager
def cache_sizes(l1d, l2, l3):
    _cpp.set_gemm_cache_sizes(l1d, l2, l3)
    try:
        yield
    finally:
        _cpp.set_gemm_cache_sizes(0, 0, 0)


def test_cache_override_changes_the_blocking_and_resets():
    before = _cpp.gemm_blocking()
    with cache_sizes(4 * KIB, 16 * KIB, 0):
        b = _cpp.gemm_blocking()
        assert (b["l1d"], b["l2"], b["cache_source"]) == (4 * KIB, 16 * KIB, "override")
        want = _cpp.derive_gemm_blocking(4 * KIB, 16 * KIB, 0, b["mr"], b["nr"])
        assert (b["mc"], b["kc"], b["nc"]) == (want["mc"], want["kc"], want["nc"])
        assert b["kc"] < before["kc"]
    assert _cpp.gemm_blocking() == before


# shapes with many kc slices, mc and nc blocks under the tiny caches, edge tiles everywhere
SHAPES = [(1, 1, 1), (1, 70, 65), (37, 129, 70), (131, 67, 300), (13, 530, 385), (250, 3, 97)]


def _check_gemm(backend, oracle, rng, bf16):
    from fastmlp.backends.bfloat16 import round_to_bfloat16

    results = []
    for (m, n, k), (ta, tb) in itertools.product(SHAPES, itertools.product([False, True], repeat=2)):
        a = _rand(rng, (k, m) if ta else (m, k))
        b = _rand(rng, (n, k) if tb else (k, n))
        c0 = _rand(rng, (m, n))
        got, want = c0.copy(), c0.copy()
        backend.gemm(a, b, got, trans_a=ta, trans_b=tb, alpha=0.7, beta=1.5)
        oracle.gemm(a, b, want, trans_a=ta, trans_b=tb, alpha=0.7, beta=1.5)
        ra, rb = _op(a, ta), _op(b, tb)
        if bf16:
            ra, rb = round_to_bfloat16(ra), round_to_bfloat16(rb)
        bound = 0.7 * (np.abs(ra).astype(np.float64) @ np.abs(rb).astype(np.float64))
        tol = 2 * (k + 2) * EPS32 * (bound + np.abs(1.5 * c0.astype(np.float64))) + 1e-30
        assert np.all(np.abs(got.astype(np.float64) - want) <= tol), (m, n, k, ta, tb)
        results.append(got)
    return results


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("cpu", ["tiny", "unknown", "huge"])
@pytest.mark.parametrize("config", CPP_CONFIGS, ids=[c[0] for c in CPP_CONFIGS])
def test_gemm_is_correct_under_any_blocking(config, cpu, precision, oracle, recwarn):
    _, name, threads, isa = config
    before = backends.get_matmul_precision()
    backends.set_matmul_precision(precision)
    try:
        with configured(name, threads, isa) as backend, cache_sizes(*CACHES[cpu]):
            _check_gemm(backend, oracle, np.random.default_rng(5), precision == "bfloat16")
    finally:
        backends.set_matmul_precision(before)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("isa", sorted({c[3] for c in CPP_CONFIGS}))
def test_gemm_is_bitwise_the_same_on_1_and_2_threads_under_tiny_caches(isa, precision, oracle,
                                                                       recwarn):
    before = backends.get_matmul_precision()
    backends.set_matmul_precision(precision)
    try:
        runs = []
        for threads in (1, 2):
            with configured("cpp", threads, isa) as backend, cache_sizes(*CACHES["tiny"]):
                runs.append(_check_gemm(backend, oracle, np.random.default_rng(9),
                                        precision == "bfloat16"))
        for one, two in zip(*runs):
            np.testing.assert_array_equal(one, two)
    finally:
        backends.set_matmul_precision(before)


def test_backends_command_shows_caches_and_blocking():
    r = run_cli("backends")  # float32 at the best ISA path (run_cli drops FASTMLP_* settings)
    assert r.returncode == 0, r.stderr
    best = next(isa for isa in ("avx512", "avx2", "generic") if _cpp.cpu_supports(isa))
    assert backends.get_matmul_precision() == "float32"
    with configured("cpp", None, best):
        b = _cpp.gemm_blocking()
    assert f"L1d {b['l1d'] // KIB} KiB, L2 {b['l2'] // KIB} KiB" in r.stdout
    assert f"mc={b['mc']} kc={b['kc']} nc={b['nc']}" in r.stdout
