"""Tabu search for the classical job shop (makespan), used to warm-start CP-SAT.

CP-SAT on two cores proves small shops quickly but improves slowly on hard 15–20-job instances; a tabu search over
the disjunctive graph (the N5 neighbourhood of Nowicki & Smutnicki: swap the first or last two operations of a
critical block, moves rated by Taillard's estimate, best non-tabu move taken) finds near-optimal sequences in
seconds. The loop is compiled with Numba (``nogil``), so two searches with different seeds run in two threads.

Only the pure job shop goes through it: one eligible machine per operation, no downtime, no frozen or pinned
operations, no reference plan. Release dates are heads. Everything else is left to CP-SAT alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

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
    mu = np.empty(2 * n, np.int64)
    mv = np.empty(2 * n, np.int64)
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
        # path[length-1] .. path[0] runs from the start to the end; blocks are runs joined by machine arcs
        moves = 0
        k = length - 1
        first = True
        while k >= 0:
            a = k
            while a > 0 and via_machine[a - 1] == 1:
                a -= 1
            # block: path[k] (its first operation) .. path[a] (its last)
            last = a == 0
            if k > a:
                if not first:
                    mu[moves] = path[k]
                    mv[moves] = path[k - 1]
                    moves += 1
                if not last and not (k - 1 == a and not first):
                    mu[moves] = path[a + 1]
                    mv[moves] = path[a]
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
            u, v = mu[i], mv[i]
            if jp[v] == u:
                continue
            # Taillard's estimate of the longest path through u and v once v runs first
            m = mach[u]
            pu = pos[u]
            rv = rel[v]
            p = jp[v]
            if p >= 0 and head[p] + dur[p] > rv:
                rv = head[p] + dur[p]
            if pu > 0:
                p = seq[m, pu - 1]
                if head[p] + dur[p] > rv:
                    rv = head[p] + dur[p]
            ru = rel[u]
            p = jp[u]
            if p >= 0 and head[p] + dur[p] > ru:
                ru = head[p] + dur[p]
            if rv + dur[v] > ru:
                ru = rv + dur[v]
            qu = 0
            s = js[u]
            if s >= 0:
                qu = tail[s] + dur[s]
            pv = pos[v]
            if pv + 1 < counts[m]:
                s = seq[m, pv + 1]
                if tail[s] + dur[s] > qu:
                    qu = tail[s] + dur[s]
            qv = qu + dur[u]
            s = js[v]
            if s >= 0 and tail[s] + dur[s] > qv:
                qv = tail[s] + dur[s]
            value = max(rv + dur[v] + qv, ru + dur[u] + qu)
            forbidden = tabu[v, u] > it  # the move puts v before u, an order undone recently
            if forbidden and value >= best:
                if tabu[v, u] < oldest_age:
                    oldest_age = tabu[v, u]
                    oldest = i
                continue
            if value < chosen_value or (value == chosen_value and np.random.random() < 0.5):
                chosen_value = value
                chosen = i
        if chosen < 0:
            chosen = oldest
        if chosen < 0:
            break
        u, v = mu[chosen], mv[chosen]
        _swap(seq, pos, mach, u, v)
        tabu[u, v] = it + base + np.random.randint(0, base + 1)  # u before v again is tabu for a while
        cmax = _evaluate(seq, counts, mach, dur, rel, jp, js, pos, head, tail, order, indeg)
        if cmax < 0:  # cannot happen for N5 moves; undo defensively
            _swap(seq, pos, mach, v, u)
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
    base = max(2, min(20, 4 + jobs_per_machine // 2))
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
