r"""Numba kernels of the SDE engine, each next to a plain-Python/numpy twin that the tests compare.

Random numbers
--------------
Normals come from a per-block generator: particles are split into fixed blocks of
``BLOCK`` particles (independent of the number of threads), block ``b`` owns a
xoshiro256++ stream (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 2021) whose 256-bit state is four splitmix64 outputs of the key ``(k0, k1)`` and the
block index, and standard normals are drawn from it by the 256-layer ziggurat
(Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000) with a signed mantissa: one 64-bit draw u gives the
layer i (its low 8 bits) and js = (u as int64) >> 11 in [-2^52, 2^52), whose magnitude
m = js ^ (js >> 63) in [0, 2^52) is the position in the layer; the candidate (js + 1/2) x_i / 2^52 =
+-(m + 1/2) x_i / 2^52 (symmetric, exact in binary) is accepted at once when m < k_i =
floor(2^52 x_{i+1}/x_i), otherwise by the wedge test or from the tail beyond r (Marsaglia 1964).
Paths therefore depend on ``(seed, block)``
only, never on which thread ran a block: the same seed gives the same paths for any
``numba.set_num_threads``.

Kernels
-------
``forward_linear(x, c, d, g, key0, key1, tables, path, med)``
    x_{k+1} = c_k x_k + d_k z_k for every particle, in place; optionally records the path and
    accumulates the Stratonovich midpoint sum  med += g_k (x_k + x_{k+1})/2 . (x_{k+1} - x_k).
``fill_normals(states, out, tables)``
    one standard normal per entry of ``out`` (n, D), block b from ``states[b]`` (advanced).
``affine_noise_update(x, score, c1, c2, d, states, tables)``
    x <- c1 x + c2 score + d z   (one reverse Euler-Maruyama step).
"""
from __future__ import annotations

import contextlib
import math

import numba
import numpy as np
from numba import prange

__all__ = ["BLOCK", "ziggurat_tables", "block_keys", "forward_linear", "forward_linear_numpy",
           "init_states", "init_states_python", "fill_normals", "normals_python",
           "affine_noise_update", "affine_noise_update_numpy"]

#: particles per random-number block (fixed: results never depend on the thread count)
BLOCK = 64
#: per-step kernels (one call per time step) run threaded only above this many numbers: every
#: parallel region ends in a barrier, which costs a scheduler time slice on a busy machine.
#: Below it they run on one thread (same blocks, same streams: identical numbers).
PARALLEL_MIN = 1 << 20


@contextlib.contextmanager
def _threads_for(size):
    """Run a per-step kernel on one Numba thread when the work is below PARALLEL_MIN."""
    if size >= PARALLEL_MIN:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


# --------------------------------------------------------------------------- ziggurat tables
def _ziggurat_layers(n_layers: int = 256, r: float = 3.6541528853610088):
    """Layer abscissae x_0 > x_1 = r > ... > x_{n-1} > x_n = 0 of the normal ziggurat.

    Every layer has area v = r f(r) + int_r^inf f (f(x) = exp(-x^2/2)); x_0 = v / f(r) is the
    width of the base strip that holds the tail.  r is the value for which the recursion
    x_{i+1} = f^{-1}(v / x_i + f(x_i)) closes at the top (checked by the tests).
    """
    f = lambda t: math.exp(-0.5 * t * t)  # noqa: E731
    v = r * f(r) + math.sqrt(0.5 * math.pi) * math.erfc(r / math.sqrt(2.0))
    x = np.empty(n_layers + 1)
    x[0] = v / f(r)
    x[1] = r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(v / x[i] + f(x[i])))
    x[n_layers] = 0.0
    return x, v


def ziggurat_tables():
    """(k, w, f) arrays of the 256-layer ziggurat on 52-bit magnitudes.

    k[i] = floor(2^52 x_{i+1} / x_i) (int64; fast acceptance of the magnitude m + 1/2 < k[i]),
    w[i] = x_i / 2^52, f[i] = exp(-x_i^2/2) (f has 257 entries).
    """
    x, _ = _ziggurat_layers()
    two52 = float(2 ** 52)
    k = np.array([int(math.floor(two52 * x[i + 1] / x[i])) for i in range(256)], dtype=np.int64)
    w = x[:256] / two52
    f = np.exp(-0.5 * x * x)
    return k, w, f


_R = 3.6541528853610088
_TABLES = ziggurat_tables()


def block_keys(seed_sequence: np.random.SeedSequence) -> tuple[int, int]:
    """Two 64-bit keys from a SeedSequence (the per-block streams are derived from them)."""
    k = seed_sequence.generate_state(2, np.uint64)
    return int(k[0]), int(k[1])


# --------------------------------------------------------------------------- generator (numba)
@numba.njit(inline="always", cache=True)
def _rotl(x, k):  # pragma: no cover - compiled
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@numba.njit(inline="always", cache=True)
def _splitmix(z):  # pragma: no cover - compiled
    z = z + np.uint64(0x9E3779B97F4A7C15)
    y = z
    y = (y ^ (y >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    y = (y ^ (y >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z, y ^ (y >> np.uint64(31))


@numba.njit(cache=True)
def _seed_block(st, key0, key1, b):  # pragma: no cover - compiled
    z = np.uint64(key0) ^ (np.uint64(b) * np.uint64(0xD1B54A32D192ED03) + np.uint64(key1))
    for j in range(4):
        z, out = _splitmix(z)
        st[j] = out
    if st[0] == 0 and st[1] == 0 and st[2] == 0 and st[3] == 0:
        st[0] = np.uint64(1)


@numba.njit(inline="always", cache=True)
def _next_r(s0, s1, s2, s3):  # pragma: no cover - compiled
    """xoshiro256++ step on a state held in scalars (registers): (output, new state)."""
    result = _rotl(s0 + s3, 23) + s0
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@numba.njit(inline="always", cache=True)
def _uniform_r(s0, s1, s2, s3):  # pragma: no cover - compiled
    """Uniform on [0, 1) with 53 random bits, state in scalars: (u, new state)."""
    u, s0, s1, s2, s3 = _next_r(s0, s1, s2, s3)
    return float(u >> np.uint64(11)) * (1.0 / 9007199254740992.0), s0, s1, s2, s3


@numba.njit(inline="always", cache=True)
def _layer(u):  # pragma: no cover - compiled
    """(layer, signed mantissa, |mantissa|) of one 64-bit draw: the layer is the low 8 bits, the
    signed mantissa the top 53 bits as a two's-complement integer js in [-2^52, 2^52), and
    m = js ^ (js >> 63) in [0, 2^52) (js for js >= 0, -js - 1 below): the candidate is
    (js + 1/2) w_i = +-(m + 1/2) w_i, symmetric in the sign."""
    js = np.int64(u) >> np.int64(11)
    return np.int64(u & np.uint64(255)), js, js ^ (js >> np.int64(63))


@numba.njit(cache=True)
def _normal_rare(s0, s1, s2, s3, i, js, zk, zw, zf):  # pragma: no cover - compiled
    """The ziggurat's rejection branch (about 1.2 % of draws), from a draw (layer i, signed
    mantissa js) that failed the fast test; draws again until it accepts: (z, new state)."""
    while True:
        x = (float(js) + 0.5) * zw[i]
        if i == 0:                  # base strip beyond the rectangle: the tail beyond r (Marsaglia 1964)
            while True:
                ua, s0, s1, s2, s3 = _uniform_r(s0, s1, s2, s3)
                ub, s0, s1, s2, s3 = _uniform_r(s0, s1, s2, s3)
                a = -math.log(1.0 - ua) / 3.6541528853610088
                b = -math.log(1.0 - ub)
                if 2.0 * b > a * a:
                    t = 3.6541528853610088 + a
                    return (-t if js < 0 else t), s0, s1, s2, s3
        uy, s0, s1, s2, s3 = _uniform_r(s0, s1, s2, s3)
        y = zf[i] + uy * (zf[i + 1] - zf[i])
        if y < math.exp(-0.5 * x * x):
            return x, s0, s1, s2, s3
        u, s0, s1, s2, s3 = _next_r(s0, s1, s2, s3)       # reject: a fresh draw
        i, js, m = _layer(u)
        if m < zk[i]:
            return (float(js) + 0.5) * zw[i], s0, s1, s2, s3


@numba.njit(inline="always", cache=True)
def _normal_r(s0, s1, s2, s3, zk, zw, zf):  # pragma: no cover - compiled
    """One standard normal (256-layer ziggurat, signed mantissa) from the xoshiro256++ state held in
    scalars (registers): (z, new state).  One 64-bit draw gives the layer, the sign and 52 bits of
    mantissa; 98.8 % of draws are accepted by the fast test |m| < k_i."""
    u, s0, s1, s2, s3 = _next_r(s0, s1, s2, s3)
    i, js, m = _layer(u)
    if m < zk[i]:
        return (float(js) + 0.5) * zw[i], s0, s1, s2, s3
    return _normal_rare(s0, s1, s2, s3, i, js, zk, zw, zf)


@numba.njit(inline="always", cache=True)
def _normal(st, zk, zw, zf):  # pragma: no cover - compiled
    """:func:`_normal_r` on a state array st (4,) (advanced in place)."""
    z, s0, s1, s2, s3 = _normal_r(st[0], st[1], st[2], st[3], zk, zw, zf)
    st[0] = s0
    st[1] = s1
    st[2] = s2
    st[3] = s3
    return z


# --------------------------------------------------------------------------- kernels
@numba.njit(parallel=True, cache=True)
def _forward_linear_nb(x, c, d, g, key0, key1, zk, zw, zf, path, med, block):  # pragma: no cover
    n, D = x.shape
    nsteps = c.shape[0]
    nb = (n + block - 1) // block
    record = path.shape[0] > 0
    do_med = g.shape[0] > 0
    for b in prange(nb):
        st = np.empty(4, dtype=np.uint64)
        _seed_block(st, key0, key1, b)
        lo = b * block
        hi = min(n, lo + block)
        for k in range(nsteps):
            ck = c[k]
            dk = d[k]
            if do_med:
                gk = 0.5 * g[k]
                for i in range(lo, hi):
                    acc = 0.0
                    for j in range(D):
                        old = x[i, j]
                        new = ck * old + dk * _normal(st, zk, zw, zf)
                        x[i, j] = new
                        acc += (old + new) * (new - old)
                    med[i] += gk * acc
            else:
                for i in range(lo, hi):
                    for j in range(D):
                        x[i, j] = ck * x[i, j] + dk * _normal(st, zk, zw, zf)
            if record:
                for i in range(lo, hi):
                    for j in range(D):
                        path[k + 1, i, j] = x[i, j]


def forward_linear(x, c, d, key0, key1, *, g=None, record=False, block=BLOCK):
    """Run x_{k+1} = c_k x_k + d_k z_k in place on x (n, D) (Numba, parallel over blocks).

    Returns ``(path or None, med or None)``: the recorded path (nsteps + 1, n, D) when
    ``record``, and the Stratonovich sum  sum_k g_k (x_k + x_{k+1})/2 . (x_{k+1} - x_k)  per
    particle when ``g`` is given.
    """
    n, D = x.shape
    c = np.ascontiguousarray(c, dtype=np.float64)
    d = np.ascontiguousarray(d, dtype=np.float64)
    if record:
        path = np.empty((c.shape[0] + 1, n, D))
        path[0] = x
    else:
        path = np.empty((0, 0, 0))
    gg = np.empty(0) if g is None else np.ascontiguousarray(g, dtype=np.float64)
    med = np.zeros(n if g is not None else 0)
    _forward_linear_nb(x, c, d, gg, np.uint64(key0), np.uint64(key1), *_TABLES, path, med, block)
    return (path if record else None), (med if g is not None else None)


@numba.njit(parallel=True, cache=True)
def _init_states_nb(key0, key1, nb):  # pragma: no cover - compiled
    states = np.empty((nb, 4), dtype=np.uint64)
    for b in prange(nb):
        _seed_block(states[b], key0, key1, b)
    return states


def init_states(key0, key1, n, block=BLOCK):
    """Generator states (n_blocks, 4) for n particles."""
    return _init_states_nb(np.uint64(key0), np.uint64(key1), (n + block - 1) // block)


@numba.njit(parallel=True, cache=True)
def _fill_normals_nb(states, out, zk, zw, zf, block):  # pragma: no cover - compiled
    n, D = out.shape
    nb = states.shape[0]
    for b in prange(nb):
        st = states[b].copy()          # a local copy keeps the state in registers
        for i in range(b * block, min(n, (b + 1) * block)):
            for j in range(D):
                out[i, j] = _normal(st, zk, zw, zf)
        states[b, :] = st



def fill_normals(states, out, block=BLOCK):
    """Fill out (n, D) with standard normals, block b from states[b] (advanced in place)."""
    with _threads_for(out.size):
        _fill_normals_nb(states, out, *_TABLES, block)
    return out


@numba.njit(parallel=True, cache=True)
def _affine_noise_nb(x, score, c1, c2, d, states, zk, zw, zf, block):  # pragma: no cover
    n, D = x.shape
    nb = states.shape[0]
    for b in prange(nb):
        st = states[b].copy()
        for i in range(b * block, min(n, (b + 1) * block)):
            for j in range(D):
                x[i, j] = c1 * x[i, j] + c2 * score[i, j] + d * _normal(st, zk, zw, zf)
        states[b, :] = st



def affine_noise_update(x, score, c1, c2, d, states, block=BLOCK):
    """x <- c1 x + c2 score + d z in place, z from the block generators (one reverse EM step)."""
    with _threads_for(x.size):
        _affine_noise_nb(x, score, float(c1), float(c2), float(d), states, *_TABLES, block)
    return x


# --------------------------------------------------------------------------- plain-Python twins
def _splitmix_py(z):
    z = (z + _GOLDEN) & _MASK
    y = z
    y = ((y ^ (y >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    y = ((y ^ (y >> 27)) * 0x94D049BB133111EB) & _MASK
    return z, y ^ (y >> 31)


def _seed_block_py(key0, key1, b):
    z = key0 ^ ((b * 0xD1B54A32D192ED03 + key1) & _MASK)
    st = []
    for _ in range(4):
        z, out = _splitmix_py(z)
        st.append(out)
    if not any(st):
        st[0] = 1
    return st


def init_states_python(key0, key1, n, block=BLOCK):
    """Plain-Python twin of :func:`init_states` (list of 4-word lists)."""
    return [_seed_block_py(int(key0), int(key1), b) for b in range((n + block - 1) // block)]


def _next_py(st):
    rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & _MASK  # noqa: E731
    s0, s1, s2, s3 = st
    result = (rotl((s0 + s3) & _MASK, 23) + s0) & _MASK
    t = (s1 << 17) & _MASK
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    st[:] = [s0, s1, s2, s3]
    return result


def _layer_py(u):
    js = (u - (1 << 64) if u >> 63 else u) >> 11          # arithmetic shift of the signed word
    return u & 255, js, (-js - 1 if js < 0 else js)


def _normal_py(st):
    """Plain-Python twin of the kernels' ziggurat draw (:func:`_normal_r`)."""
    zk, zw, zf = _TABLES
    uniform = lambda: (_next_py(st) >> 11) * 2.0 ** -53  # noqa: E731
    i, js, m = _layer_py(_next_py(st))
    while True:
        x = (float(js) + 0.5) * float(zw[i])
        if m < int(zk[i]):
            return x
        if i == 0:
            while True:
                a = -math.log(1.0 - uniform()) / _R
                b = -math.log(1.0 - uniform())
                if 2.0 * b > a * a:
                    return -(_R + a) if js < 0 else _R + a
        y = float(zf[i]) + uniform() * (float(zf[i + 1]) - float(zf[i]))
        if y < math.exp(-0.5 * x * x):
            return x
        i, js, m = _layer_py(_next_py(st))


def normals_python(states, n, D, block=BLOCK):
    """Plain-Python twin of :func:`fill_normals`: an (n, D) array, states advanced in place."""
    out = np.empty((n, D))
    for b, st in enumerate(states):
        for i in range(b * block, min(n, (b + 1) * block)):
            for j in range(D):
                out[i, j] = _normal_py(st)
    return out


def forward_linear_numpy(x, c, d, z, g=None):
    """Plain-numpy twin of :func:`forward_linear` driven by given normals z (nsteps, n, D).

    Returns (final x, path (nsteps + 1, n, D), med or None); x is not modified.
    """
    x = np.array(x, dtype=float)
    path = [x.copy()]
    med = None if g is None else np.zeros(x.shape[0])
    for k in range(len(c)):
        new = c[k] * x + d[k] * z[k]
        if g is not None:
            med += 0.5 * g[k] * np.sum((x + new) * (new - x), axis=1)
        x = new
        path.append(x.copy())
    return x, np.array(path), med


def forward_normals_python(key0, key1, n, D, nsteps, block=BLOCK):
    """The normals z (nsteps, n, D) that :func:`forward_linear` draws (block b, step k, particle, dim order)."""
    z = np.empty((nsteps, n, D))
    for b, st in enumerate(init_states_python(key0, key1, n, block)):
        lo, hi = b * block, min(n, (b + 1) * block)
        for k in range(nsteps):
            for i in range(lo, hi):
                for j in range(D):
                    z[k, i, j] = _normal_py(st)
    return z


def affine_noise_update_numpy(x, score, c1, c2, d, z):
    """Plain-numpy twin of :func:`affine_noise_update` with given normals z."""
    return c1 * np.asarray(x) + c2 * np.asarray(score) + d * np.asarray(z)


# --------------------------------------------------------------------------- fused reverse SDE, mixture data
# The exact score of a diffused Gaussian mixture comes from the mixture kernels
# (nent_ref.core.kernels.mixture_core, the SIMD chunk routine behind mixture_logpdf_score, and
# mixture_point, the scalar one for far points; both pick the covariance form from param's dimension), called here per block of
# BLOCK particles and per step inside one parallel region; each block stays in the transposed chunk
# layout for all steps (one transpose in, one out).  Each block draws its normals in the same order as the per-step path (step by step,
# particle by particle), so the fused kernel returns the same numbers as calling
# mixture_logpdf_score and affine_noise_update once per step.
from ..core import kernels as _mk  # noqa: E402


@numba.njit(inline="always", cache=True)
def _affine_chunk(xt, sc, zb, c1, c2, d, m):  # pragma: no cover - compiled
    # xt <- c1 xt + c2 sc + d zb on the first m columns (transposed chunk layout); the same expression,
    # rounded the same way, as affine_noise_update
    for j in range(xt.shape[0]):
        for p in range(m):
            xt[j, p] = c1 * xt[j, p] + c2 * sc[j, p] + d * zb[j, p]


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _reverse_mix_nb(x, logc, means, param, c1, c2, d, states, zk, zw, zf, block):  # pragma: no cover
    n, D = x.shape
    K = means.shape[1]
    nb = states.shape[0]
    for b in prange(nb):
        st = states[b].copy()
        ws = _mk.mixture_workspace(K, D)
        xt = ws[0]
        sc = ws[6]
        tm = ws[3]
        big = ws[5]
        tk = ws[9]
        prow = np.empty((1, D))
        srow = np.empty((1, D))
        lrow = np.empty(1)
        zb = np.empty((D, _mk.CHUNK))
        lo = b * block
        m = min(n, lo + block) - lo
        _mk.load_chunk(x, lo, m, xt)              # the block stays transposed for all steps
        s0 = st[0]                                # generator state in registers
        s1 = st[1]
        s2 = st[2]
        s3 = st[3]
        for k in range(c1.shape[0]):
            _mk.mixture_core(m, logc[k], means[k], param[k], ws, 0, lrow, False)
            for p in range(m):
                if not (big[p] <= _mk.BIG and tm[p] > -np.inf):     # exact scalar path (far points)
                    for j in range(D):
                        prow[0, j] = xt[j, p]
                    _mk.mixture_point(prow, 0, logc[k], means[k], param[k], tk, lrow, srow)
                    for j in range(D):
                        sc[j, p] = srow[0, j]
            for i in range(m):                    # the step's normals, in stream order (particle, dim)
                for j in range(D):
                    z, s0, s1, s2, s3 = _normal_r(s0, s1, s2, s3, zk, zw, zf)
                    zb[j, i] = z
            _affine_chunk(xt, sc, zb, c1[k], c2[k], d[k], m)
        for i in range(m):
            for j in range(D):
                x[lo + i, j] = xt[j, i]
        states[b, 0] = s0
        states[b, 1] = s1
        states[b, 2] = s2
        states[b, 3] = s3


def reverse_mixture(x, log_weights, means_steps, covs_steps, c1, c2, d, states, block=BLOCK):
    """Fused reverse Euler-Maruyama with an exact Gaussian-mixture score, in place on x (n, D).

    Step k (in the order of application): x <- c1[k] x + c2[k] score_k(x) + d[k] z, where score_k is
    the score of the mixture with ``log_weights`` (K,), means ``means_steps[k]`` (K, D) and covariances
    ``covs_steps[k]`` in any of the three forms of :func:`nent_ref.core.kernels.mixture_logpdf_score`.
    """
    if not 1 <= block <= _mk.CHUNK:
        raise ValueError(f"block must be between 1 and {_mk.CHUNK} particles (got {block})")
    N = len(c1)
    covs_steps = np.asarray(covs_steps, dtype=np.float64)
    D = x.shape[1]
    if covs_steps.shape[0] != N or np.shape(means_steps)[0] != N:
        raise ValueError(f"means_steps and covs_steps must have one entry per step ({N})")
    logc, param = _mk.component_terms_steps(np.asarray(log_weights, dtype=np.float64), covs_steps, D)
    logc = np.ascontiguousarray(logc)
    param = np.ascontiguousarray(param)
    means_steps = np.ascontiguousarray(means_steps, dtype=np.float64)
    # one parallel region for all steps (a single barrier), so always threaded; the covariance form is
    # chosen by param's dimension when the kernel compiles (nent_ref.core.kernels.mixture_core)
    _reverse_mix_nb(x, logc, means_steps, param, np.ascontiguousarray(c1, dtype=np.float64),
         np.ascontiguousarray(c2, dtype=np.float64), np.ascontiguousarray(d, dtype=np.float64),
         states, *_TABLES, block)
    return x


def reverse_mixture_numpy(x, log_weights, means_steps, covs_steps, c1, c2, d, z):
    """Plain-numpy twin of :func:`reverse_mixture` with given normals z (N, n, D)."""
    x = np.array(x, dtype=float)
    for k in range(len(c1)):
        sc = _mk.mixture_logpdf_score_numpy(x, log_weights, means_steps[k], covs_steps[k])[1]
        x = c1[k] * x + c2[k] * sc + d[k] * z[k]
    return x
