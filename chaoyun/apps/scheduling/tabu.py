"""Tabu search for the classical job shop (makespan), used to warm-start CP-SAT.

CP-SAT on two cores proves small shops quickly but improves slowly on hard 15–20-job instances; a tabu search over
the disjunctive graph finds near-optimal sequences in seconds. Its neighbourhood is built on one critical path: an
operation of a block moves to the block's front or back (N6 of Balas & Vazacopoulos, kept acyclic by their
head/tail tests), or the block's first or last operation moves into its interior (N7 of Zhang et al.); moves are
rated by an estimate of the longest path through the moved segment, the best non-tabu one is taken. The loop is
compiled with Numba (``nogil``), so two searches with different seeds run in two threads.

Only the pure job shop goes through it: one eligible machine per operation, no downtime, no frozen or pinned
operations, no reference plan. Release dates are heads. Everything else is left to CP-SAT alone.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Numba caches the compiled loop next to this file; an installation whose code is read-only (a container running as
# another user) would fail at import, so the cache goes to the temporary folder there instead.
if not os.access(Path(__file__).parent, os.W_OK):
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "chaoyun-numba"))

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]


stats: list[int] = []  # iterations of the last search, per thread (benchmarks print them)


@dataclass
class Shop:
    """Operations 0..n-1; ``machine``/``duration``/``release`` per operation, job chains as predecessor and
    successor arrays (-1 at the ends), ``sequence`` the initial machine orders (one row per machine, -1 padded)."""

    machine: I64
    duration: I64
    release: I64
    job_pred: I64
    job_succ: I64
    sequence: I64
    counts: I64


@njit(cache=True, nogil=True)
def _evaluate(
    seq: I64,
    counts: I64,
    mach: I64,
    dur: I64,
    rel: I64,
    jp: I64,
    js: I64,
    pos: I64,
    head: I64,
    tail: I64,
    order: I64,
    indeg: I64,
) -> int:
    """Heads and tails of the current machine orders; returns the makespan, or -1 on a cycle."""
    n = mach.shape[0]
    for o in range(n):
        indeg[o] = 0
    for o in range(n):
        if jp[o] >= 0:
            indeg[o] += 1
        if pos[o] > 0:
            indeg[o] += 1
    top = 0
    for o in range(n):
        if indeg[o] == 0:
            order[top] = o
            top += 1
    k = 0
    while k < top:
        o = order[k]
        k += 1
        h = rel[o]
        p = jp[o]
        if p >= 0 and head[p] + dur[p] > h:
            h = head[p] + dur[p]
        m = mach[o]
        if pos[o] > 0:
            p = seq[m, pos[o] - 1]
            if head[p] + dur[p] > h:
                h = head[p] + dur[p]
        head[o] = h
        s = js[o]
        if s >= 0:
            indeg[s] -= 1
            if indeg[s] == 0:
                order[top] = s
                top += 1
        if pos[o] + 1 < counts[m]:
            s = seq[m, pos[o] + 1]
            indeg[s] -= 1
            if indeg[s] == 0:
                order[top] = s
                top += 1
    if top < n:
        return -1
    cmax = 0
    for k in range(n - 1, -1, -1):
        o = order[k]
        t = 0
        s = js[o]
        if s >= 0 and tail[s] + dur[s] > t:
            t = tail[s] + dur[s]
        m = mach[o]
        if pos[o] + 1 < counts[m]:
            s = seq[m, pos[o] + 1]
            if tail[s] + dur[s] > t:
                t = tail[s] + dur[s]
        tail[o] = t
        if head[o] + dur[o] + t > cmax:
            cmax = head[o] + dur[o] + t
    return cmax


@njit(cache=True, nogil=True)
def _swap(seq: I64, pos: I64, mach: I64, u: int, v: int) -> None:
    m = mach[u]
    pu, pv = pos[u], pos[v]
    seq[m, pu] = v
    seq[m, pv] = u
    pos[u] = pv
    pos[v] = pu


@njit(cache=True, nogil=True)
def _move(seq: I64, pos: I64, m: int, f: int, t: int) -> None:
    """Moves the operation at position ``f`` of machine ``m`` to position ``t``, shifting those between."""
    x = seq[m, f]
    if f < t:
        for q in range(f, t):
            seq[m, q] = seq[m, q + 1]
            pos[seq[m, q]] = q
    else:
        for q in range(f, t, -1):
            seq[m, q] = seq[m, q - 1]
            pos[seq[m, q]] = q
    seq[m, t] = x
    pos[x] = t


@njit(cache=True, nogil=True)
def _search(
    seq: I64,
    counts: I64,
    mach: I64,
    dur: I64,
    rel: I64,
    jp: I64,
    js: I64,
    best_seq: I64,
    state: I64,
    tabu: I64,
    iterations: int,
    seed: int,
) -> None:
    """Runs ``iterations`` tabu iterations from ``seq`` (updated in place). ``state`` carries between calls:
    [iteration, best makespan, iterations since the best, stagnation limit, tenure base]."""
    np.random.seed(seed)
    n = mach.shape[0]
    pos = np.empty(n, np.int64)
    for m in range(seq.shape[0]):
        for k in range(counts[m]):
            pos[seq[m, k]] = k
    head = np.zeros(n, np.int64)
    tail = np.zeros(n, np.int64)
    order = np.empty(n, np.int64)
    indeg = np.empty(n, np.int64)
    path = np.empty(n, np.int64)
    via_machine = np.zeros(n, np.int64)
    mm = np.empty(4 * n + 8, np.int64)
    mu = np.empty(4 * n + 8, np.int64)
    mv = np.empty(4 * n + 8, np.int64)
    seg = np.empty(n, np.int64)
    est_head = np.empty(n, np.int64)
    it, best, since, limit, base = state[0], state[1], state[2], state[3], state[4]
    cmax = _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg)
    if best <= 0 or cmax < best:
        best = cmax
        best_seq[:, :] = seq
    for _ in range(iterations):
        it += 1
        # one critical path, traced back from an operation that ends at the makespan
        end = -1
        for o in range(n):
            if head[o] + dur[o] == cmax and tail[o] == 0:
                end = o
                break
        length = 0
        o = end
        while o >= 0:
            path[length] = o
            nxt = -1
            m = mach[o]
            if pos[o] > 0:
                p = seq[m, pos[o] - 1]
                if head[p] + dur[p] == head[o]:
                    nxt = p
                    via_machine[length] = 1
            if nxt < 0:
                via_machine[length] = 0
                p = jp[o]
                if p >= 0 and head[p] + dur[p] == head[o]:
                    nxt = p
            length += 1
            o = nxt
        # path[length-1] .. path[0] runs from the start to the end; blocks are runs joined by machine arcs.
        # Moves (machine, from, to): an operation of a block moves to the block's front or back (N6), or the block's
        # first / last operation moves into its interior (N7); an adjacent swap is the case of one step.
        moves = 0
        k = length - 1
        first = True
        while k >= 0:
            a = k
            while a > 0 and via_machine[a - 1] == 1:
                a -= 1
            last = a == 0
            if k > a:
                m = mach[path[k]]
                lo = pos[path[k]]
                hi = pos[path[a]]
                if not first:
                    for i in range(lo + 1, hi + 1):  # to the front
                        mm[moves], mu[moves], mv[moves] = m, i, lo
                        moves += 1
                if not last:
                    for i in range(lo, hi):  # to the back
                        mm[moves], mu[moves], mv[moves] = m, i, hi
                        moves += 1
                for j in range(lo + 1, hi):  # first into the interior, last into the interior
                    mm[moves], mu[moves], mv[moves] = m, lo, j
                    moves += 1
                    mm[moves], mu[moves], mv[moves] = m, hi, j
                    moves += 1
            first = False
            k = a - 1
        if moves == 0:
            break  # one block holds the whole critical path: nothing can shorten it
        chosen = -1
        chosen_value = np.int64(1) << 62
        oldest = -1
        oldest_age = np.int64(1) << 62
        for i in range(moves):
            m, f, t = mm[i], mu[i], mv[i]
            x = seq[m, f]
            if f < t:
                # x moves right after y = seq[m, t]: acyclic when y's tail reaches x's job successor's (B&V)
                y = seq[m, t]
                s = js[x]
                if s >= 0 and dur[y] + tail[y] < dur[s] + tail[s]:
                    continue
                lo, hi = f, t
            else:
                # x moves right before y = seq[m, t]: acyclic when y ends no earlier than x's job predecessor
                y = seq[m, t]
                p = jp[x]
                if p >= 0 and head[y] + dur[y] < head[p] + dur[p]:
                    continue
                lo, hi = t, f
            # the segment lo..hi in its new order into seg; tabu if it recreates an order undone recently
            cnt = 0
            forbidden_at = np.int64(0)
            if f < t:
                for q in range(lo + 1, hi + 1):
                    w = seq[m, q]
                    seg[cnt] = w
                    cnt += 1
                    if tabu[w, x] > forbidden_at:
                        forbidden_at = tabu[w, x]
                seg[cnt] = x
                cnt += 1
            else:
                seg[cnt] = x
                cnt += 1
                for q in range(lo, hi):
                    w = seq[m, q]
                    seg[cnt] = w
                    cnt += 1
                    if tabu[x, w] > forbidden_at:
                        forbidden_at = tabu[x, w]
            # estimated longest path through the segment (heads forward, tails backward, outside values unchanged)
            r = np.int64(0)
            if lo > 0:
                p = seq[m, lo - 1]
                r = head[p] + dur[p]
            for q in range(cnt):
                o = seg[q]
                h = rel[o]
                p = jp[o]
                if p >= 0 and head[p] + dur[p] > h:
                    h = head[p] + dur[p]
                if r > h:
                    h = r
                est_head[q] = h
                r = h + dur[o]
            tl = np.int64(0)
            if hi + 1 < counts[m]:
                s = seq[m, hi + 1]
                tl = tail[s] + dur[s]
            value = np.int64(0)
            for q in range(cnt - 1, -1, -1):
                o = seg[q]
                tq = tl
                s = js[o]
                if s >= 0 and tail[s] + dur[s] > tq:
                    tq = tail[s] + dur[s]
                if est_head[q] + dur[o] + tq > value:
                    value = est_head[q] + dur[o] + tq
                tl = tq + dur[o]
            if forbidden_at > it and value >= best:
                if forbidden_at < oldest_age:
                    oldest_age = forbidden_at
                    oldest = i
                continue
            if value < chosen_value or (value == chosen_value and np.random.random() < 0.5):
                chosen_value = value
                chosen = i
        if chosen < 0:
            chosen = oldest
        if chosen < 0:
            break
        m, f, t = mm[chosen], mu[chosen], mv[chosen]
        x = seq[m, f]
        tenure = it + base + np.random.randint(0, base + 1)
        _move(seq, pos, m, f, t)
        if f < t:
            for q in range(f, t):
                tabu[x, seq[m, q]] = tenure  # x before them again is tabu for a while
        else:
            for q in range(t + 1, f + 1):
                tabu[seq[m, q], x] = tenure
        cmax = _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg)
        if cmax < 0:  # the acyclicity tests make this rare; undo
            _move(seq, pos, m, t, f)
            cmax = _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg)
            continue
        since += 1
        if cmax < best:
            best = cmax
            best_seq[:, :] = seq
            since = 0
        elif since > limit:
            # back to the best sequence, shaken by a few random adjacent swaps that keep it acyclic
            seq[:, :] = best_seq
            for m in range(seq.shape[0]):
                for k in range(counts[m]):
                    pos[seq[m, k]] = k
            for _r in range(2 + np.random.randint(0, 4)):
                m = np.random.randint(0, seq.shape[0])
                if counts[m] < 2:
                    continue
                k = np.random.randint(0, counts[m] - 1)
                u, v = seq[m, k], seq[m, k + 1]
                _swap(seq, pos, mach, u, v)
                if _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg) < 0:
                    _swap(seq, pos, mach, v, u)
            for a in range(n):
                for b in range(n):
                    tabu[a, b] = 0
            since = 0
            cmax = _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg)
    state[0], state[1], state[2] = it, best, since


def search(
    shop: Shop,
    seconds: float,
    *,
    threads: int = 2,
    seed: int = 1,
    target: int = 0,
    should_stop: Callable[[], bool] | None = None,
    on_improve: Callable[[int, I64], None] | None = None,
) -> tuple[int, I64]:
    """Best makespan and machine orders found by ``threads`` independent searches within ``seconds``. Stops early
    at ``target`` (a proved lower bound) or when ``should_stop`` says so; ``on_improve`` hears each new best."""
    n = int(shop.machine.shape[0])
    jobs_per_machine = max(1, n // max(1, shop.sequence.shape[0]))
    base = max(4, min(10, 2 + jobs_per_machine // 4))  # short tenures: an insertion marks every pair it jumps
    stats.clear()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    shared: list[tuple[int, I64]] = [(1 << 62, shop.sequence.copy())]
    stop = threading.Event()

    def one(k: int) -> None:
        seq = shop.sequence.copy()
        best_seq = seq.copy()
        state = np.array([0, 0, 0, max(2000, 20 * n), base], np.int64)
        tabu = np.zeros((n, n), np.int64)
        chunk = 2000
        while not stop.is_set() and time.monotonic() < deadline:
            t = time.monotonic()
            _search(
                seq,
                shop.counts,
                shop.machine,
                shop.duration,
                shop.release,
                shop.job_pred,
                shop.job_succ,
                best_seq,
                state,
                tabu,
                chunk,
                seed * 7919 + k * 104729 + int(state[0]),
            )
            if time.monotonic() - t < 0.05:
                chunk *= 2
            with lock:
                if int(state[1]) < shared[0][0]:
                    shared[0] = (int(state[1]), best_seq.copy())
                    if on_improve is not None:
                        on_improve(shared[0][0], shared[0][1])
                if shared[0][0] <= target or (should_stop is not None and should_stop()):
                    stop.set()
        with lock:
            stats.append(int(state[0]))

    workers = [threading.Thread(target=one, args=(k,)) for k in range(max(1, threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return shared[0]
