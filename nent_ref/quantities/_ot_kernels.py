"""Numba kernels for :mod:`nent_ref.quantities.ot` (also `nr.ot`), each beside a plain-numpy reference twin.

Private module.  Every kernel works in float64 with the squared Euclidean cost
``C_ij = |x_i - y_j|^2`` (computed as a sum of squared differences, so identical
points give exactly 0).  The numpy twins (suffix ``_np``) implement the same
mathematics in the most direct way and exist so that tests can compare against them.

Kernels
-------
``sq_cost``                Squared Euclidean cost matrix (parallel over rows; ``sq_cost_serial``
                           for small problems).
``lap_solve``              Dense linear assignment: Jonker-Volgenant column reduction and
                           augmenting row reduction followed by shortest augmenting paths
                           (Jonker & Volgenant, Computing 38, 1987), with dual potentials.
                           ``lap_solve_shifted`` seeds the column reduction with row offsets; its
                           Dijkstra relaxes candidate columns first and whole rows only when an
                           exact lower bound requires it (binary heaps); twin ``lap_np`` (scipy).
                           ``sq_cost_serial`` and ``lap_solve_shifted`` release the GIL, so independent
                           assignments run at once on Python threads (``ot.w2_squared_many``).
``dual_gap_*``             A posteriori certificate: how far potentials are from dual feasible,
                           with every rounding error bounded (exact OT error bounds).
``network_simplex``        Exact transportation problem with real weights: primal network
                           simplex with a strongly feasible spanning tree (Cunningham's
                           leaving-arc rule, no cycling) and block-search pricing (blocks of
                           sqrt(#arcs) arcs, tested 64 at a time by a vectorised count); twin
                           ``network_simplex_np`` (scipy HiGHS LP).
``sinkhorn_stabilized``    Entropic OT at one epsilon: Sinkhorn scaling iterations on a kernel
                           with absorbed log-domain potentials (Schmitzer, SIAM J. Sci. Comput.
                           41, 2019), re-absorbed whenever the scalings leave [1e-100, 1e100].
``lse_update_rows/cols``   Exact log-domain half-steps (log-sum-exp), parallel and deterministic.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

# ----------------------------------------------------------------------------------------------
# cost matrix


@njit(cache=True)
def _cost_row(x, yT, i, out):
    """out_j = sum_k (x_ik - y_jk)^2, summed over k in ascending order; the loop over j is
    innermost (y transposed, contiguous) so that it vectorises."""
    d, m = yT.shape
    for j in range(m):
        out[j] = 0.0
    for k in range(d):
        xik = x[i, k]
        for j in range(m):
            t = xik - yT[k, j]
            out[j] += t * t


@njit(cache=True, parallel=True)
def sq_cost(x, y):
    """C_ij = sum_k (x_ik - y_jk)^2 (float64; parallel over rows)."""
    n = x.shape[0]
    yT = np.ascontiguousarray(y.T)
    C = np.empty((n, y.shape[0]))
    for i in prange(n):
        _cost_row(x, yT, i, C[i])
    return C


@njit(cache=True, nogil=True)
def sq_cost_serial(x, y):
    """Serial :func:`sq_cost` (same arithmetic, no thread pool: for small problems, and for independent problems
    run on Python threads, which it lets run at once: it releases the GIL)."""
    n = x.shape[0]
    yT = np.ascontiguousarray(y.T)
    C = np.empty((n, y.shape[0]))
    for i in range(n):
        _cost_row(x, yT, i, C[i])
    return C


def sq_cost_np(x, y):
    """numpy twin of :func:`sq_cost`."""
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)


# ----------------------------------------------------------------------------------------------
# linear assignment (uniform weights, equal sizes)


@njit(cache=True)
def _relax(ci, w, d, path, i, off):
    """d_j <- min(d_j, C_ij - w_j + off), recording row i as the predecessor where it improves."""
    for j in range(ci.shape[0]):
        r = ci[j] - w[j] + off
        if r < d[j]:
            d[j] = r
            path[j] = i


@njit(cache=True, fastmath={"nnan", "nsz", "reassoc"})
def _minimum(d):
    """min_j d_j (no NaN here; the minimum is exact in any order, so reassociation is harmless)."""
    m = np.inf
    for j in range(d.shape[0]):
        m = min(m, d[j])
    return m


@njit(cache=True)
def _first_equal(d, val):
    for j in range(d.shape[0]):
        if d[j] == val:
            return j
    return -1


@njit(cache=True)
def _select_candidates(ci, v, out, selv, selj):
    """The len(out) columns with the smallest ci_j - v_j (into out) and the next smallest value
    (returned; +inf when every column is a candidate).  Sorted insertion into len(out) + 1 slots."""
    kc = out.shape[0]
    m = ci.shape[0]
    cnt = 0
    for j in range(m):
        h = ci[j] - v[j]
        if cnt <= kc:
            p = cnt
            cnt += 1
        elif h < selv[kc]:
            p = kc
        else:
            continue
        while p > 0 and selv[p - 1] > h:
            selv[p] = selv[p - 1]
            selj[p] = selj[p - 1]
            p -= 1
        selv[p] = h
        selj[p] = j
    for t in range(kc):
        out[t] = selj[t]
    return selv[kc] if cnt > kc else np.inf


@njit(cache=True)
def _heap_push(hv, hj, size, val, j):
    p = size
    while p > 0:
        q = (p - 1) >> 1
        if hv[q] <= val:
            break
        hv[p] = hv[q]
        hj[p] = hj[q]
        p = q
    hv[p] = val
    hj[p] = j
    return size + 1


@njit(cache=True)
def _heap_pop(hv, hj, size):
    size -= 1
    val = hv[size]
    j = hj[size]
    p = 0
    while True:
        c = 2 * p + 1
        if c >= size:
            break
        if c + 1 < size and hv[c + 1] < hv[c]:
            c += 1
        if hv[c] >= val:
            break
        hv[p] = hv[c]
        hj[p] = hj[c]
        p = c
    if size > 0:
        hv[p] = val
        hj[p] = j
    return size


@njit(cache=True)
def _heap_rebuild(hv, hj, d, scanned):
    """Drop stale entries: one entry per unscanned column with a finite distance."""
    size = 0
    for j in range(d.shape[0]):
        if not scanned[j] and d[j] < np.inf:
            size = _heap_push(hv, hj, size, d[j], j)
    return size


@njit(cache=True)
def lap_solve(C):
    """Minimum-cost perfect assignment of the square matrix C.

    Returns ``(col4row, u, v)`` with ``u_i + v_j <= C_ij`` for all i, j and equality on
    ``(i, col4row[i])``; hence ``sum u + sum v = sum_i C[i, col4row[i]]`` (strong duality).
    """
    return lap_solve_shifted(C, np.zeros(C.shape[0]))


@njit(cache=True, nogil=True)
def lap_solve_shifted(C, alpha):
    """:func:`lap_solve` run as if on the equivalent matrix ``C_ij + alpha_i`` (same optimal
    assignments): only the column reduction sees alpha, ``v_j = min_i (C_ij + alpha_i)``, which
    starts the rows at ``u_i = -alpha_i``; everything else is row-wise or uses reduced costs, and
    the potentials returned refer to C itself.  Row offsets that make the rows alike (see
    ``nent_ref.quantities.ot._normalising_map``) leave far fewer rows to the shortest-path phase.
    """
    n = C.shape[0]
    col4row = np.full(n, -1, np.int64)
    row4col = np.full(n, -1, np.int64)
    u = np.zeros(n)
    v = np.empty(n)
    # 1. column reduction: v_j = min_i (C_ij + alpha_i) (first minimising row; computed row by row,
    # which reads C contiguously), then assign the argmin row if it is still free (columns n-1 .. 0)
    arg = np.zeros(n, np.int64)
    for j in range(n):
        v[j] = np.inf
    for i in range(n):
        ai = alpha[i]
        for j in range(n):
            h = C[i, j] + ai
            if h < v[j]:
                v[j] = h
                arg[j] = i
    for j in range(n - 1, -1, -1):
        ib = arg[j]
        if col4row[ib] < 0:
            col4row[ib] = j
            row4col[j] = ib
    free = np.empty(n, np.int64)
    nfree = 0
    for i in range(n):
        if col4row[i] < 0:
            free[nfree] = i
            nfree += 1
    # 2. augmenting row reduction, two passes (keeps C_ij - v_j >= row minimum tight on assigned pairs)
    guard = 0
    for _ in range(2):
        k = 0
        prev = nfree
        nfree = 0
        while k < prev:
            i = free[k]
            k += 1
            guard += 1
            umin = np.inf
            usub = np.inf
            j1 = 0
            j2 = 0
            for j in range(n):
                h = C[i, j] - v[j]
                if h < usub:
                    if h >= umin:
                        usub = h
                        j2 = j
                    else:
                        usub = umin
                        j2 = j1
                        umin = h
                        j1 = j
            i0 = row4col[j1]
            lowered = umin < usub
            if lowered:
                v[j1] = v[j1] - (usub - umin)
            elif i0 >= 0:
                j1 = j2
                i0 = row4col[j2]
            col4row[i] = j1
            row4col[j1] = i
            if i0 >= 0:
                col4row[i0] = -1
                if lowered and guard < 8 * n:
                    k -= 1
                    free[k] = i0
                else:
                    free[nfree] = i0
                    nfree += 1
    # duals of the assigned rows: u_i = C_i,col - v_col (the row minimum of C_ij - v_j)
    for i in range(n):
        if col4row[i] >= 0:
            u[i] = C[i, col4row[i]] - v[col4row[i]]
        else:
            # any value with u_i <= min_j (C_ij - v_j) is feasible; take the minimum
            mn = np.inf
            for j in range(n):
                h = C[i, j] - v[j]
                if h < mn:
                    mn = h
            u[i] = mn
    # 3. shortest augmenting paths (Dijkstra on reduced costs) for the remaining free rows.
    # Sparse with an exact bound: a scanned row relaxes only its ``kc`` candidate columns (the
    # smallest C_ij - v_j when the candidates were chosen) and leaves the bound theta_i + off for
    # the rest (theta_i: the next smallest value).  v only decreases in this phase, so the bound
    # stays valid; whenever the smallest tentative distance exceeds the smallest pending bound,
    # that row is relaxed densely (and its candidates refreshed) before a column is settled, so
    # columns are settled in exactly Dijkstra's order.  Binary heaps hold the tentative distances
    # (lazy deletion) and the pending bounds.
    kc = min(n, 24)
    cand = np.empty((n, kc), np.int64)
    theta = np.full(n, np.inf)
    has_cand = np.zeros(n, np.bool_)
    selv = np.empty(kc + 1)
    selj = np.empty(kc + 1, np.int64)
    d = np.empty(n)
    scanned = np.zeros(n, np.bool_)
    path = np.empty(n, np.int64)
    sr_rows = np.empty(n, np.int64)
    sc_cols = np.empty(n, np.int64)
    sc_d = np.empty(n)
    offs = np.empty(n)
    cap = 4 * n + 8 * kc
    hv = np.empty(cap)
    hj = np.empty(cap, np.int64)
    pv = np.empty(n)
    pj = np.empty(n, np.int64)
    for f in range(nfree):
        cur = free[f]
        for j in range(n):
            d[j] = np.inf
            scanned[j] = False
        hsize = 0
        psize = 0
        nsr = 0
        nsc = 0
        minval = 0.0
        sink = -1
        i = cur
        while sink < 0:
            sr_rows[nsr] = i
            nsr += 1
            off = minval - u[i]
            offs[i] = off
            if not has_cand[i]:
                theta[i] = _select_candidates(C[i], v, cand[i], selv, selj)
                has_cand[i] = True
            for t in range(kc):
                j = cand[i, t]
                if not scanned[j]:
                    r = C[i, j] - v[j] + off
                    if r < d[j]:
                        d[j] = r
                        path[j] = i
                        if hsize == cap:
                            hsize = _heap_rebuild(hv, hj, d, scanned)
                        hsize = _heap_push(hv, hj, hsize, r, j)
            if theta[i] < np.inf:
                psize = _heap_push(pv, pj, psize, theta[i] + off, i)
            # settle the next column: the smallest valid tentative distance, unless a pending
            # bound is smaller (then relax that row densely first)
            while True:
                while hsize > 0 and (scanned[hj[0]] or hv[0] != d[hj[0]]):
                    hsize = _heap_pop(hv, hj, hsize)
                top = hv[0] if hsize > 0 else np.inf
                if psize > 0 and pv[0] < top:
                    r_i = pj[0]
                    psize = _heap_pop(pv, pj, psize)
                    o = offs[r_i]
                    ci = C[r_i]
                    for j in range(n):
                        if not scanned[j]:
                            r = ci[j] - v[j] + o
                            if r < d[j]:
                                d[j] = r
                                path[j] = r_i
                                if hsize == cap:
                                    hsize = _heap_rebuild(hv, hj, d, scanned)
                                hsize = _heap_push(hv, hj, hsize, r, j)
                    theta[r_i] = _select_candidates(ci, v, cand[r_i], selv, selj)
                    continue
                break
            jmin = hj[0]
            lowest = hv[0]
            hsize = _heap_pop(hv, hj, hsize)
            minval = lowest
            scanned[jmin] = True
            sc_cols[nsc] = jmin
            sc_d[nsc] = lowest
            nsc += 1
            if row4col[jmin] < 0:
                sink = jmin
            else:
                i = row4col[jmin]
        # dual update: row sr_rows[t] was reached through column sc_cols[t - 1]
        u[cur] += minval
        for t in range(1, nsr):
            u[sr_rows[t]] += minval - sc_d[t - 1]
        for t in range(nsc):
            j = sc_cols[t]
            v[j] -= minval - sc_d[t]
        # augment along the path
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            jn = col4row[i]
            col4row[i] = j
            j = jn
            if i == cur:
                break
    return col4row, u, v


# ----------------------------------------------------------------------------------------------
# a posteriori optimality certificate (dual feasibility with rounding accounted for)

_U = 2.0 ** -53          # unit roundoff
_SUB = 2.0 ** -1074      # smallest subnormal


@njit(cache=True)
def _entry_error(c, ui, vj, d):
    """Bound on |R_computed - R_exact| for R = C_ij - u_i - v_j, C_ij = sum of d squared
    differences: the cost's own rounding ((d + 1) u c, plus subnormal underflow of the squares)
    and the two subtractions (each u |operand|), with a safety factor."""
    return _U * ((d + 4) * c + 3.0 * (abs(ui) + abs(vj))) + (d + 1) * _SUB


@njit(cache=True)
def _gap_matrix_row(C, u, v, d, i):
    worst = 0.0
    ui = u[i]
    for j in range(C.shape[1]):
        r = (C[i, j] - ui) - v[j]
        e = _entry_error(C[i, j], ui, v[j], d) - r
        if e > worst:
            worst = e
    return worst


@njit(cache=True)
def dual_gap_matrix(C, u, v, d):
    """delta = max(0, max_ij (err_ij - R_ij)) for the cost matrix C of d-dimensional points: the
    exact reduced costs C_ij - u_i - v_j (C_ij the exact squared distances of the float64 points)
    are then >= -delta, whatever the rounding of C and of the subtractions."""
    worst = 0.0
    for i in range(C.shape[0]):
        w = _gap_matrix_row(C, u, v, d, i)
        if w > worst:
            worst = w
    return worst


def dual_gap_np(C, u, v, d):
    """numpy twin of :func:`dual_gap_matrix`."""
    R = (C - u[:, None]) - v[None, :]
    err = _U * ((d + 4) * C + 3.0 * (np.abs(u)[:, None] + np.abs(v)[None, :])) + (d + 1) * _SUB
    return max(0.0, float(np.max(err - R)))


# ----------------------------------------------------------------------------------------------
# network simplex (general weights)


@njit(cache=True)
def _arc_ends(e, n, m, nm):
    """Tail and head node of arc e.  Nodes: sources 0..n-1, sinks n..n+m-1, root n+m.
    Arcs: real i->j (e = i*m + j), artificial source->root (nm + i), root->sink (nm + n + j)."""
    if e < nm:
        return e // m, n + e % m
    if e < nm + n:
        return e - nm, n + m
    return n + m, n + (e - nm - n)


@njit(cache=True)
def _arc_cost(e, C, n, m, nm, big):
    if e < nm:
        return C[e // m, e % m]
    return big


@njit(cache=True)
def _link(h, node, head_of, nxt, prv):
    nxt[h] = head_of[node]
    prv[h] = -1
    if head_of[node] >= 0:
        prv[head_of[node]] = h
    head_of[node] = h


@njit(cache=True)
def _unlink(h, node, head_of, nxt, prv):
    if prv[h] >= 0:
        nxt[prv[h]] = nxt[h]
    else:
        head_of[node] = nxt[h]
    if nxt[h] >= 0:
        prv[nxt[h]] = prv[h]


#: pricing tests real arcs in chunks of this many with a vectorised count (no index), and looks for
#: the index only in a chunk that holds a new best (a few times per block)
_CHUNK = 64


@njit(cache=True)
def _count_below(cs, ps, u, best):
    """Number of k with (cs[k] + ps[k]) - u < best: the very arithmetic of the pricing scan (no
    fast-math), in a loop LLVM vectorises."""
    c = 0
    for k in range(cs.shape[0]):
        if ((cs[k] + ps[k]) - u) < best:
            c += 1
    return c


@njit(cache=True)
def _price_block(C, phi, n, m, nm, E, big, tol, block, pos):
    """Block-search pricing from arc ``pos``: scans whole blocks of ``block`` arcs (wrapping around)
    and stops at the end of the first block that holds an arc of reduced cost below ``-tol``.
    Returns ``(enter, next_pos)``; ``enter = -1`` when no arc in the whole cycle qualifies.  Real
    arcs are scanned row by row without index division (the hot loop of the solver)."""
    best = -tol
    enter = -1
    scanned = 0
    cnt = 0
    phis = phi[n:n + m]
    while scanned < E:
        if pos < nm:
            i = pos // m
            j0 = pos - i * m
            lim = m - j0
            if block - cnt < lim:
                lim = block - cnt
            if E - scanned < lim:
                lim = E - scanned
            ui = phi[i]
            ci = C[i]
            for jc in range(j0, j0 + lim, _CHUNK):
                je = min(jc + _CHUNK, j0 + lim)
                if _count_below(ci[jc:je], phis[jc:je], ui, best) > 0:   # rare: find the index
                    for j in range(jc, je):
                        r = (ci[j] + phis[j]) - ui
                        if r < best:
                            best = r
                            enter = i * m + j
            pos += lim
            cnt += lim
            scanned += lim
        else:
            if pos < nm + n:
                r = big - phi[pos - nm]
            else:
                r = big + phi[n + (pos - nm - n)]
            if r < best:
                best = r
                enter = pos
            pos += 1
            cnt += 1
            scanned += 1
        if pos == E:
            pos = 0
        if cnt >= block:
            cnt = 0
            if enter >= 0:
                break
    return enter, pos


@njit(cache=True)
def _tree_phi(root, head_of, nxt, slot_t, slot_h, slot_c, parent, phi, stack):
    """Potentials recomputed from the root along the tree arcs, one rounding per arc
    (``phi_tail - phi_head = cost`` on every basic arc): clears the drift that shifting whole subtrees
    by a constant accumulates over many pivots."""
    phi[root] = 0.0
    top = 0
    stack[top] = root
    top += 1
    while top > 0:
        top -= 1
        x = stack[top]
        hf = head_of[x]
        while hf >= 0:
            s = hf >> 1
            y = slot_h[s] if (hf & 1) == 0 else slot_t[s]
            if y != parent[x]:
                if slot_t[s] == y:          # arc y -> x
                    phi[y] = phi[x] + slot_c[s]
                else:                       # arc x -> y
                    phi[y] = phi[x] - slot_c[s]
                stack[top] = y
                top += 1
            hf = nxt[hf]


@njit(cache=True)
def network_simplex(C, a, b, tol, max_pivots):
    """Exact min-cost transportation plan for supplies ``a`` (n) and demands ``b`` (m).

    Requires a > 0, b > 0 and sum a = sum b (up to rounding; the imbalance stays on the
    artificial arcs and is reported by the caller).  Returns
    ``(tails, heads, flows, phi, n_pivots, status)`` where the basic real arcs are
    ``(tails[k], heads[k]) -> flows[k]`` (heads are sink indices 0..m-1) and ``phi`` are
    node potentials with ``C_ij >= phi_i - phi_{n+j} - tol`` for all arcs (u = phi[:n],
    v = -phi[n:n+m]).  status 0: optimal; 1: pivot limit reached; 2: a tree arc priced as entering
    right after the potentials were recomputed exactly (rounding beyond the pricing tolerance).

    The pricing tolerance is ``max(tol, 8 eps big)``, big = (max|C| + 1)(n + m + 1) the cost of the
    artificial arcs: potentials are of that size, so their rounding (a few ulps of big) must not make
    a tree arc look improving (it would re-enter and pivot on itself; issue 22).  The potentials are
    recomputed exactly along the tree every n + m + 1 pivots, and at once if a tree arc is priced
    as entering.

    Tree: each basic arc sits in a slot with its end nodes, cost and flow; a node knows its parent
    and the slot of the arc to it.  The apex of a pivot's cycle is found by walking up from both
    ends in turn and marking (no depths to maintain); after a pivot only the parents along the
    re-hung stem change, and every potential in the moved subtree shifts by one constant.
    """
    n, m = C.shape
    nm = n * m
    N = n + m + 1
    root = n + m
    E = nm + n + m
    cmax = 0.0
    for i in range(n):
        for j in range(m):
            if abs(C[i, j]) > cmax:
                cmax = abs(C[i, j])
    big = (cmax + 1.0) * N
    # tree storage: slots 0..N-2 hold basic arcs; half-edges 2*slot (at tail), 2*slot+1 (at head)
    nslot = N - 1
    slot_arc = np.empty(nslot, np.int64)
    slot_t = np.empty(nslot, np.int64)
    slot_h = np.empty(nslot, np.int64)
    slot_c = np.empty(nslot)
    slot_flow = np.empty(nslot)
    head_of = np.full(N, -1, np.int64)      # first half-edge of node
    nxt = np.full(2 * nslot, -1, np.int64)
    prv = np.full(2 * nslot, -1, np.int64)
    parent = np.full(N, -1, np.int64)
    pslot = np.full(N, -1, np.int64)
    mark = np.zeros(N, np.int64)
    phi = np.zeros(N)
    # initial strongly feasible tree: source i -> root carries a_i (upward), root -> sink j carries b_j
    for i in range(n):
        s = i
        slot_arc[s] = nm + i
        slot_t[s] = i
        slot_h[s] = root
        slot_c[s] = big
        slot_flow[s] = a[i]
        _link(2 * s, i, head_of, nxt, prv)
        _link(2 * s + 1, root, head_of, nxt, prv)
        parent[i] = root
        pslot[i] = s
        phi[i] = big          # C_e = phi_tail - phi_head for basic arcs, phi_root = 0
    for j in range(m):
        s = n + j
        slot_arc[s] = nm + n + j
        slot_t[s] = root
        slot_h[s] = n + j
        slot_c[s] = big
        slot_flow[s] = b[j]
        _link(2 * s, root, head_of, nxt, prv)
        _link(2 * s + 1, n + j, head_of, nxt, prv)
        parent[n + j] = root
        pslot[n + j] = s
        phi[n + j] = -big
    block = max(int(np.sqrt(E)), 64)
    pos = 0
    pivots = 0
    status = 0
    stack = np.empty(N, np.int64)
    tol = max(tol, 8.0 * 2.220446049250313e-16 * big)
    since_refresh = 0
    refreshed = False
    while True:
        enter, pos = _price_block(C, phi, n, m, nm, E, big, tol, block, pos)
        if enter < 0:
            break
        if pivots >= max_pivots:
            status = 1
            break
        t, h = _arc_ends(enter, n, m, nm)
        if slot_arc[pslot[t]] == enter or slot_arc[pslot[h]] == enter:   # a tree arc priced as improving
            if refreshed:
                status = 2
                break
            _tree_phi(root, head_of, nxt, slot_t, slot_h, slot_c, parent, phi, stack)
            refreshed = True
            since_refresh = 0
            continue
        refreshed = False
        since_refresh += 1
        if since_refresh > N:
            _tree_phi(root, head_of, nxt, slot_t, slot_h, slot_c, parent, phi, stack)
            since_refresh = 0
        pivots += 1
        ce = _arc_cost(enter, C, n, m, nm, big)
        # ---- apex (lowest common ancestor): alternate upward walks, marked 2 pivots (t side), 2 pivots + 1 (h side)
        mt = 2 * pivots
        mh = mt + 1
        p = t
        q = h
        mark[p] = mt
        if mark[q] == mt:
            apex = q
        else:
            mark[q] = mh
            apex = -1
            while apex < 0:
                if p != root:
                    p = parent[p]
                    if mark[p] == mh:
                        apex = p
                        break
                    mark[p] = mt
                if q != root:
                    q = parent[q]
                    if mark[q] == mt:
                        apex = q
                        break
                    mark[q] = mh
        # ---- leaving arc (Cunningham): traverse apex -> t, then t -> h, then h -> apex;
        # blocking arcs are those traversed against their orientation; take the LAST one.
        delta = np.inf
        leave_node = -1   # child endpoint of the leaving tree arc
        leave_side = 0    # 0: on the t side, 1: on the h side
        x = t
        while x != apex:  # t side, walked upward; traversal direction there is parent -> x
            s = pslot[x]
            if slot_t[s] == x:   # arc x -> parent traversed backwards: blocking
                if slot_flow[s] < delta:   # strict: keep the one nearest t (last in traversal)
                    delta = slot_flow[s]
                    leave_node = x
                    leave_side = 0
            x = parent[x]
        x = h
        while x != apex:  # h side, traversal direction x -> parent
            s = pslot[x]
            if slot_t[s] != x:   # arc parent -> x traversed backwards: blocking
                if slot_flow[s] <= delta:  # non-strict: later (nearer the apex) wins ties
                    delta = slot_flow[s]
                    leave_node = x
                    leave_side = 1
            x = parent[x]
        # ---- flow update
        if delta > 0.0:
            x = t
            while x != apex:
                s = pslot[x]
                if slot_t[s] == x:
                    slot_flow[s] -= delta
                else:
                    slot_flow[s] += delta
                x = parent[x]
            x = h
            while x != apex:
                s = pslot[x]
                if slot_t[s] != x:
                    slot_flow[s] -= delta
                else:
                    slot_flow[s] += delta
                x = parent[x]
        # ---- replace the leaving arc by the entering arc in the same slot
        ls = pslot[leave_node]
        _unlink(2 * ls, slot_t[ls], head_of, nxt, prv)
        _unlink(2 * ls + 1, slot_h[ls], head_of, nxt, prv)
        slot_arc[ls] = enter
        slot_t[ls] = t
        slot_h[ls] = h
        slot_c[ls] = ce
        slot_flow[ls] = delta
        _link(2 * ls, t, head_of, nxt, prv)
        _link(2 * ls + 1, h, head_of, nxt, prv)
        # ---- re-hang the subtree cut off below leave_node: it contains t (side 0) or h (side 1).
        # The stem start .. leave_node reverses; then every potential in the subtree shifts by sigma.
        if leave_side == 0:
            start = t
            newpar = h
            sigma = phi[h] + ce - phi[t]
        else:
            start = h
            newpar = t
            sigma = phi[t] - ce - phi[h]
        x = start
        px = newpar
        sx = ls
        while True:
            nx = parent[x]
            ns_ = pslot[x]
            parent[x] = px
            pslot[x] = sx
            if x == leave_node:
                break
            px = x
            sx = ns_
            x = nx
        top = 0
        stack[top] = start
        top += 1
        while top > 0:
            top -= 1
            x = stack[top]
            phi[x] += sigma
            px = parent[x]
            hf = head_of[x]
            while hf >= 0:
                s = hf >> 1
                y = slot_h[s] if (hf & 1) == 0 else slot_t[s]
                if y != px:
                    stack[top] = y
                    top += 1
                hf = nxt[hf]
    # ---- output the basic real arcs
    cntr = 0
    for s in range(nslot):
        if slot_arc[s] < nm:
            cntr += 1
    tails = np.empty(cntr, np.int64)
    heads = np.empty(cntr, np.int64)
    flows = np.empty(cntr)
    k = 0
    for s in range(nslot):
        e = slot_arc[s]
        if e < nm:
            tails[k] = e // m
            heads[k] = e % m
            flows[k] = slot_flow[s]
            k += 1
    return tails, heads, flows, phi, pivots, status


@njit(cache=True)
def tree_potentials(C, tails, heads, u_old, v_old):
    """Recompute potentials along the basic real arcs: ``u_i + v_j = C_ij`` on every arc (i, j),
    one breadth-first sweep per connected component of the arcs, anchored at the old potential of
    the component's first node.  The simplex updates its potentials incrementally across arcs of
    cost ~N max(C) (the artificial arcs), so they carry rounding errors of that size; these are
    exact up to a few roundings of the (small) costs along the tree.  Returns (u, v)."""
    n, m = C.shape
    N = n + m
    deg = np.zeros(N + 1, np.int64)
    for k in range(tails.shape[0]):
        deg[tails[k] + 1] += 1
        deg[n + heads[k] + 1] += 1
    for t in range(N):
        deg[t + 1] += deg[t]
    adj = np.empty(2 * tails.shape[0], np.int64)
    fill = deg[:N].copy()
    for k in range(tails.shape[0]):
        adj[fill[tails[k]]] = n + heads[k]
        fill[tails[k]] += 1
        adj[fill[n + heads[k]]] = tails[k]
        fill[n + heads[k]] += 1
    pot = np.empty(N)
    seen = np.zeros(N, np.bool_)
    queue = np.empty(N, np.int64)
    for r in range(N):
        if seen[r]:
            continue
        pot[r] = u_old[r] if r < n else v_old[r - n]
        seen[r] = True
        qh = 0
        qt = 0
        queue[qt] = r
        qt += 1
        while qh < qt:
            a = queue[qh]
            qh += 1
            for t in range(deg[a], deg[a + 1]):
                b = adj[t]
                if not seen[b]:
                    seen[b] = True
                    if a < n:
                        pot[b] = C[a, b - n] - pot[a]
                    else:
                        pot[b] = C[b, a - n] - pot[a]
                    queue[qt] = b
                    qt += 1
    return pot[:n].copy(), pot[n:].copy()


# ----------------------------------------------------------------------------------------------
# Sinkhorn (entropic OT with reference measure a (x) b)


@njit(cache=True, parallel=True)
def lse_update_rows(C, g, logb, eps):
    """f_i = -eps log sum_j b_j exp((g_j - C_ij)/eps)   (exact, max-shifted log-sum-exp)."""
    n, m = C.shape
    f = np.empty(n)
    for i in prange(n):
        mx = -np.inf
        for j in range(m):
            z = (g[j] - C[i, j]) / eps + logb[j]
            if z > mx:
                mx = z
        s = 0.0
        for j in range(m):
            s += np.exp((g[j] - C[i, j]) / eps + logb[j] - mx)
        f[i] = -eps * (mx + np.log(s))
    return f


@njit(cache=True, parallel=True)
def lse_update_cols(C, f, loga, eps):
    """g_j = -eps log sum_i a_i exp((f_i - C_ij)/eps); columns split in blocks over threads."""
    n, m = C.shape
    nb = 64
    nblocks = (m + nb - 1) // nb
    g = np.empty(m)
    for bk in prange(nblocks):
        j0 = bk * nb
        j1 = min(m, j0 + nb)
        mx = np.full(j1 - j0, -np.inf)
        for i in range(n):
            for j in range(j0, j1):
                z = (f[i] - C[i, j]) / eps + loga[i]
                if z > mx[j - j0]:
                    mx[j - j0] = z
        s = np.zeros(j1 - j0)
        for i in range(n):
            for j in range(j0, j1):
                s[j - j0] += np.exp((f[i] - C[i, j]) / eps + loga[i] - mx[j - j0])
        for j in range(j0, j1):
            g[j] = -eps * (mx[j - j0] + np.log(s[j - j0]))
    return g


@njit(cache=True, parallel=True)
def _absorbed_kernel(C, f, g, loga, logb, eps, K):
    """K_ij = a_i b_j exp((f_i + g_j - C_ij)/eps) (entries below 1e-308 underflow to 0)."""
    n, m = C.shape
    for i in prange(n):
        for j in range(m):
            K[i, j] = np.exp((f[i] + g[j] - C[i, j]) / eps + loga[i] + logb[j])


@njit(cache=True, fastmath=True)
def _matvec_serial(K, x, out):
    """out_i = sum_j K_ij x_j.  fastmath lets LLVM vectorise the reduction; the summation
    order is fixed at compile time, so results are deterministic."""
    n, m = K.shape
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += K[i, j] * x[j]
        out[i] = s


@njit(cache=True)
def _rmatvec_serial(K, x, out):
    n, m = K.shape
    for j in range(m):
        out[j] = 0.0
    for i in range(n):
        xi = x[i]
        for j in range(m):
            out[j] += K[i, j] * xi


@njit(cache=True)
def _rescale(scal, target, denom):
    """scal <- target / denom (one Sinkhorn half-step).  False when a denominator is not positive
    (stop there) or a scaling leaves [1e-100, 1e100]; the caller then absorbs the scalings into the
    log-domain potentials."""
    ok = True
    for i in range(scal.shape[0]):
        if not (denom[i] > 0.0):
            return False
        scal[i] = target[i] / denom[i]
        if scal[i] > 1e100 or scal[i] < 1e-100:
            ok = False
    return ok


@njit(cache=True)
def _log(x):
    """log of a vector, in compiled code (the logarithm the Sinkhorn kernels have always used)."""
    return np.log(x)


@njit(cache=True)
def _absorb_scalings(f, g, alpha, beta, eps):
    """f_i += eps log alpha_i, g_j += eps log beta_j, then alpha = beta = 1."""
    for i in range(f.shape[0]):
        f[i] += eps * np.log(alpha[i])
        alpha[i] = 1.0
    for j in range(g.shape[0]):
        g[j] += eps * np.log(beta[j])
        beta[j] = 1.0


@njit(cache=True)
def _sinkhorn_iterate(K, a, b, alpha, beta, ka, kb, it, viol, tol, max_iter, check_every, final):
    """Sinkhorn scaling iterations on the absorbed kernel K from iteration ``it`` (see
    :func:`sinkhorn_stabilized`).  Returns ``(it, viol, absorb)``: ``absorb`` is True when a scaling left
    [1e-100, 1e100] or a kernel sum vanished before ``max_iter`` (the caller then absorbs the scalings, takes
    two exact log-sum-exp half-steps and calls again)."""
    n, m = K.shape
    have_ka = False
    while it < max_iter:
        # column update: beta_j = b_j / sum_i K_ij alpha_i  (K already carries a_i b_j);
        # K^T alpha is still in ka when the previous iteration ended with a marginal check
        if not have_ka:
            _rmatvec_serial(K, alpha, ka)
        have_ka = False
        ok = _rescale(beta, b, ka)
        if ok:
            _matvec_serial(K, beta, kb)
            ok = _rescale(alpha, a, kb)
        if not ok:
            # undo nothing: scalings are finite where computed; fall back to exact log steps
            for i in range(n):
                if not (alpha[i] > 0.0 and alpha[i] < np.inf):
                    alpha[i] = 1.0
            for j in range(m):
                if not (beta[j] > 0.0 and beta[j] < np.inf):
                    beta[j] = 1.0
            it += 1
            return it, viol, it < max_iter
        it += 1
        if final and (it % check_every == 0 or it == max_iter):
            _rmatvec_serial(K, alpha, ka)
            s = 0.0
            for j in range(m):
                d = ka[j] * beta[j] - b[j]
                s += d * d
            viol = np.sqrt(s)
            if viol < tol:
                break
            have_ka = True
    return it, viol, False


@njit(cache=True)
def _sinkhorn_summary(C, K, alpha, beta, f, g, eps):
    """Absorb the final scalings into (f, g) and return ``<P, C>``, ``KL(P || a b^T)`` and the row and column
    sums of P_ij = alpha_i K_ij beta_j = a_i b_j exp((f_i + g_j - C_ij)/eps), without new exponentials."""
    n, m = C.shape
    for i in range(n):
        f[i] += eps * np.log(alpha[i])
    for j in range(m):
        g[j] += eps * np.log(beta[j])
    lin = 0.0
    kl = 0.0
    rows = np.zeros(n)
    cols = np.zeros(m)
    for i in range(n):
        for j in range(m):
            p = alpha[i] * K[i, j] * beta[j]
            if p > 0.0:
                lin += p * C[i, j]
                kl += p * (f[i] + g[j] - C[i, j]) / eps
                rows[i] += p
                cols[j] += p
    return lin, kl, rows, cols


def sinkhorn_stabilized(C, a, b, f, g, eps, tol, max_iter, check_every, final):
    """Sinkhorn at a fixed eps from potentials (f, g), which are updated in place.

    Iterate: column update (exact column marginals), row update (exact row marginals); every
    ``check_every`` iterations compute the column-marginal violation ||P^T 1 - b||_2 and stop
    when it is below ``tol`` (only when ``final``; otherwise run ``max_iter`` iterations).
    Also returns, from the final kernel and scalings, ``<P, C>``, ``KL(P || a b^T)`` and the row
    and column sums of P.
    Potentials are kept as absorbed log-domain values plus scalings; the kernel is rebuilt from
    the absorbed potentials at the start and, after two exact log-sum-exp half-steps, whenever a
    scaling leaves [1e-100, 1e100] or a kernel row/column sum vanishes (underflow).  Returns
    ``(n_iter, violation, n_absorb, linear_cost, kl, row_sums, col_sums)``.

    The loop over absorptions is Python: the parallel kernels (:func:`_absorbed_kernel`,
    :func:`lse_update_rows`, :func:`lse_update_cols`) are called from here, not linked into the compiled
    iterations (Numba re-optimises a linked parallel kernel inside every caller: ~4 CPU-s more to compile,
    the same arithmetic).
    """
    n, m = C.shape
    loga = _log(a)
    logb = _log(b)
    K = np.empty((n, m))
    alpha = np.ones(n)
    beta = np.ones(m)
    kb = np.empty(n)
    ka = np.empty(m)
    absorbs = 0
    use_lse = False
    it = 0
    viol = np.inf
    while True:
        _absorb_scalings(f, g, alpha, beta, eps)
        if use_lse:
            f[:] = lse_update_rows(C, g, logb, eps)
            g[:] = lse_update_cols(C, f, loga, eps)
        _absorbed_kernel(C, f, g, loga, logb, eps, K)
        absorbs += 1
        it, viol, use_lse = _sinkhorn_iterate(K, a, b, alpha, beta, ka, kb, it, viol, tol, max_iter, check_every,
                                              final)
        if not use_lse:
            break
    lin, kl, rows, cols = _sinkhorn_summary(C, K, alpha, beta, f, g, eps)
    return it, viol, absorbs, lin, kl, rows, cols


# ----------------------------------------------------------------------------------------------
# numpy twins of the Sinkhorn iterations (tests only)


def sinkhorn_log_np(C, a, b, eps, n_iter):
    """Plain log-domain Sinkhorn (scipy logsumexp), from zero potentials, ``n_iter`` iterations
    of (column, row) updates.  Returns (f, g)."""
    from scipy.special import logsumexp
    f = np.zeros(C.shape[0])
    g = np.zeros(C.shape[1])
    for _ in range(n_iter):
        g = -eps * logsumexp((f[:, None] - C) / eps + np.log(a)[:, None], axis=0)
        f = -eps * logsumexp((g[None, :] - C) / eps + np.log(b)[None, :], axis=1)
    return f, g


def sinkhorn_kernel_np(C, a, b, eps, n_iter):
    """Plain kernel-domain Sinkhorn with K = exp(-C/eps): u, v scalings with
    P = diag(u) K diag(v); ``n_iter`` iterations of (column, row) updates.  Returns
    (f, g) = eps log(u / a), eps log(v / b) in the convention P = a_i b_j exp((f+g-C)/eps).
    Underflows (division by zero) once C/eps exceeds ~700."""
    K = np.exp(-C / eps)
    u = np.array(a, dtype=float)
    v = np.ones(C.shape[1])
    for _ in range(n_iter):
        v = b / (K.T @ u)
        u = a / (K @ v)
    return eps * np.log(u / a), eps * np.log(v / b)


def lap_np(C):
    """Twin of :func:`lap_solve` / :func:`lap_solve_shifted` (scipy's exact assignment, Crouse 2016):
    returns (col4row, total cost)."""
    from scipy.optimize import linear_sum_assignment
    r, c = linear_sum_assignment(C)
    col4row = np.empty(C.shape[0], np.int64)
    col4row[r] = c
    return col4row, float(C[r, c].sum())


def network_simplex_np(C, a, b):
    """LP twin for general weights (scipy HiGHS); returns the optimal value only."""
    from scipy.optimize import linprog
    n, m = C.shape
    A_eq = np.zeros((n + m, n * m))
    for i in range(n):
        A_eq[i, i * m:(i + 1) * m] = 1.0
    for j in range(m):
        A_eq[n + j, j::m] = 1.0
    res = linprog(C.ravel(), A_eq=A_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    if not res.success:
        raise RuntimeError(res.message)
    return float(res.fun)
