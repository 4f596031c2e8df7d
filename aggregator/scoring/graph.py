"""Graph centrality: weighted PageRank on an interaction graph, by sparse power iteration.

An edge ``u -> v`` with weight ``w`` means *u amplified v* (retweeted, mentioned, replied to)
``w`` times, so rank flows from amplifiers to the amplified. Each iteration is

    x' = alpha * P^T x + (alpha * (sum of x over dangling nodes) + 1 - alpha) / n

where ``P`` is the out-weight-normalized adjacency matrix (duplicate edges summed, self-loops
kept) and *dangling* nodes (no out-weight) spread their rank uniformly, as networkx and igraph
do. It stops when the L1 change between two iterates falls below ``tol`` (absolute, not
scaled by ``n`` as networkx's ``tol`` is).

Speed: nodes with no in-edges ("sources": on Twitter interaction graphs, most accounts only
amplify others) all hold the same value after the first iteration, so they are carried as
one number, and only the rest of the graph goes through the sparse product each iteration.
The iterates are those of the plain power iteration, in a fraction of the work.

Edge files: one edge per line, ``source target [weight]`` separated by spaces or tabs, ``#``
comments, optionally gzip-compressed. Node ids are any tokens without spaces. A bad line is an
error naming the file, line and column.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from aggregator.errors import ConfigError, Problem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

DEFAULT_ALPHA = 0.85
#: absolute L1 change between iterates at which the iteration stops
DEFAULT_TOL = 1e-10
DEFAULT_MAX_ITER = 10_000


@dataclass(frozen=True, eq=False)
class Edges:
    """A directed weighted edge list over nodes ``0 .. len(nodes) - 1``."""

    #: node id (as written in the file) of each node index
    nodes: NDArray[np.str_]
    source: IntArray
    target: IntArray
    weight: FloatArray

    @property
    def n(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True, eq=False)
class PageRank:
    scores: FloatArray
    iterations: int
    #: L1 change of the last iteration
    change: float
    converged: bool


def pagerank(source: IntArray, target: IntArray, weight: FloatArray | None = None, n: int | None = None, *,
             alpha: float = DEFAULT_ALPHA, tol: float = DEFAULT_TOL, max_iter: int = DEFAULT_MAX_ITER) -> PageRank:
    """Weighted PageRank of the graph ``source[i] -> target[i]`` (weight ``weight[i]``, default 1).

    ``n`` is the node count (default: the largest index + 1). Scores sum to 1. Raises
    ``ValueError`` for negative or non-finite weights, or indices outside ``0 .. n - 1``.
    """
    from scipy.sparse import csr_array

    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    if source.shape != target.shape or source.ndim != 1:
        raise ValueError("source and target must be 1-D arrays of the same length")
    w = np.ones(len(source)) if weight is None else np.asarray(weight, dtype=np.float64)
    if w.shape != source.shape:
        raise ValueError("weight must have one value per edge")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    if len(w) and (not np.all(np.isfinite(w)) or w.min() < 0):
        raise ValueError("weights must be finite and non-negative")
    top = int(max(source.max(), target.max())) + 1 if len(source) else 0
    n = top if n is None else n
    if len(source) and (min(source.min(), target.min()) < 0 or top > n):
        raise ValueError(f"node indices must be within 0 .. {n - 1}")
    if n == 0:
        return PageRank(np.zeros(0), 0, 0.0, True)
    if len(w) and w.min() == 0:  # a zero-weight edge carries nothing
        keep = w > 0
        source, target, w = source[keep], target[keep], w[keep]

    out_weight = np.bincount(source, w, minlength=n)
    is_source = np.bincount(target, minlength=n) == 0
    rest = np.flatnonzero(~is_source)  # nodes with in-edges: the ones iterated
    n_rest, n_src = len(rest), n - len(rest)
    position = np.full(n, -1, dtype=np.int64)
    position[rest] = np.arange(n_rest)
    share = w / out_weight[source]  # each edge's share of its source's out-weight
    from_source = is_source[source]
    inner = ~from_source
    matrix = csr_array((share[inner], (position[target[inner]], position[source[inner]])), shape=(n_rest, n_rest))
    # what the sources (each holding the same value) send to each other node, per unit of that value
    from_sources = np.bincount(position[target[from_source]], share[from_source], minlength=n_rest)
    dangling = out_weight == 0
    dangling_rest = np.flatnonzero(dangling[rest])
    dangling_sources = int(np.count_nonzero(dangling & is_source))

    x = np.full(n_rest, 1.0 / n)
    at_source = 1.0 / n  # the value every source holds
    change = math.inf
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        spread = float(alpha * (x[dangling_rest].sum() + dangling_sources * at_source) + 1.0 - alpha) / n
        y = matrix @ x
        y += at_source * from_sources
        y *= alpha
        y += spread
        change = float(np.abs(y - x).sum()) + n_src * abs(spread - at_source)
        x, at_source = y, spread
        if change < tol:
            break
    scores = np.full(n, at_source)
    scores[rest] = x
    return PageRank(scores=scores, iterations=iterations, change=float(change), converged=bool(change < tol))


def percentiles(scores: FloatArray) -> FloatArray:
    """Mid-rank percentile (0-100) of each score among all of them (ties share their mid-rank)."""
    from aggregator.scoring.metrics import _mid_ranks

    if len(scores) == 0:
        return np.zeros(0)
    result: FloatArray = (_mid_ranks(scores) - 0.5) / len(scores) * 100.0
    return result


# -- edge files ---------------------------------------------------------------------------------


def read_edges(path: Path) -> Edges:
    """Read an edge list (``source target [weight]`` per line; gzip allowed); errors name file, line, column."""
    source = str(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as exc:
        raise ConfigError(f"cannot read the edge file: {exc.strerror or type(exc).__name__}", source=source) from None
    except (EOFError, gzip.BadGzipFile) as exc:
        raise ConfigError(f"not a readable gzip file: {exc}", source=source) from None
    fast = _integer_edges(raw)
    if fast is not None:
        return fast
    if b"#" in raw:  # comment lines count as blank, so line numbers stay right
        raw = b"\n".join(b"" if line.lstrip().startswith(b"#") else line for line in raw.split(b"\n"))
    counts = _fields_per_line(raw)
    edge_lines = np.flatnonzero(counts) + 1  # the file line of each edge
    if len(edge_lines) == 0:
        raise ConfigError("the edge file has no edges (expected lines of: source target [weight])", source=source)
    width = int(counts[edge_lines[0] - 1])
    wrong = np.flatnonzero((counts != width) & (counts > 0)) if width in (2, 3) else edge_lines[:1] - 1
    if len(wrong):
        expected = "2 or 3 fields (source target [weight])" if width not in (2, 3) else (
            f"{width} fields (source target [weight]) like the first edge")
        got = f"got {counts[wrong[0]]}"
        line = raw.split(b"\n", wrong[0] + 1)[wrong[0]]
        if counts[wrong[0]] < 2 and (b"," in line or b";" in line):  # a CSV export, most likely
            got += " (fields are separated by spaces or tabs; this line has commas or semicolons)"
        raise ConfigError([Problem(f"line {wrong[0] + 1}", f"expected {expected}, {got}")], source=source)
    tokens = raw.split()
    src_tokens, dst_tokens = tokens[0::width], tokens[1::width]
    weight = np.ones(len(src_tokens))
    if width == 3:
        weight_tokens = tokens[2::3]
        try:
            weight = np.array(weight_tokens).astype(np.float64)
            bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
            first = int(bad[0]) if len(bad) else -1
        except ValueError:
            first = next(i for i, t in enumerate(weight_tokens) if not _is_weight(t))
        if first >= 0:
            got = weight_tokens[first].decode("utf-8", "replace")[:40]
            raise ConfigError([Problem(f"line {edge_lines[first]}, column 3 (weight)",
                                       f"expected a non-negative number, got {got!r}")], source=source)
    nodes, labels = _label(src_tokens + dst_tokens)
    m = len(src_tokens)
    return Edges(nodes=nodes, source=labels[:m], target=labels[m:], weight=weight)


#: bytes an all-integer edge file holds: digits and blanks (anything else takes the general path)
_INTEGER_FILE = np.zeros(256, dtype=np.bool_)
_INTEGER_FILE[[*b"0123456789 \t\r\n"]] = True
#: the fast path reads the file this many bytes at a time (cut at line ends), so that its masks
#: and counts stay a few times this size, whatever the file's
_BLOCK_BYTES = 1 << 24
#: longer digit runs might not fit an int64: the general path reads them
_MAX_DIGITS = 18


def _integer_edges(raw: bytes) -> Edges | None:
    """An edge file of canonical non-negative integers parsed in C, block by block; None if not one.

    Most real edge lists (Higgs, SNAP) are integers: they are read with ``np.fromstring`` and
    relabelled by a table over the id range, with no Python object per token, so memory
    stays proportional to the edges. Anything else (comments, text ids, decimal weights,
    leading zeros, a bad line) returns None, and the general path reads it (and names the
    bad line).
    """
    view = memoryview(raw)
    parts: list[IntArray] = []
    width = 0
    start = 0
    while start < len(raw):
        end = raw.rfind(b"\n", start, start + _BLOCK_BYTES) + 1 if start + _BLOCK_BYTES < len(raw) else len(raw)
        if end <= start:
            return None  # a line longer than a block: not an edge list this path knows
        block = view[start:end]
        buf = np.frombuffer(block, dtype=np.uint8)
        if not _INTEGER_FILE[buf].all():
            return None
        counts, starts, ends = _fields(buf)
        widths = np.unique(counts[counts > 0])
        if widths.size > 1 or (widths.size and (int(widths[0]) not in (2, 3) or width not in (0, int(widths[0])))):
            return None
        width = int(widths[0]) if widths.size else width
        first = np.flatnonzero(starts)
        after = np.minimum(first + 1, buf.size - 1)
        leading_zero = (buf[first] == ord("0")) & (first + 1 < buf.size) & ~_blank(buf[after])
        if first.size and (int((np.flatnonzero(ends) - first).max()) >= _MAX_DIGITS or leading_zero.any()):
            return None  # long numbers, or leading zeros: ids kept as text by the general path
        numbers = np.fromstring(bytes(block), dtype=np.int64, sep=" ")
        if numbers.size != first.size:
            return None
        parts.append(numbers)
        start = end
    if not width:
        return None
    table = np.concatenate(parts).reshape(-1, width)
    ids = table[:, :2]
    nodes, labels = _relabel(ids)
    weight = table[:, 2].astype(np.float64) if width == 3 else np.ones(len(table))
    return Edges(nodes=nodes, source=labels[:, 0].copy(), target=labels[:, 1].copy(), weight=weight)


def _relabel(ids: IntArray) -> tuple[NDArray[np.str_], IntArray]:
    """Distinct integer ids (ascending, as text) and each id's index: a table over the id range when it is dense."""
    top = int(ids.max())
    if top <= 4 * ids.size:
        present = np.zeros(top + 1, dtype=np.bool_)
        present[ids.ravel()] = True
        index = np.cumsum(present) - 1
        labels: IntArray = index[ids]
        return np.flatnonzero(present).astype(np.str_), labels
    distinct, inverse = np.unique(ids, return_inverse=True)
    return distinct.astype(np.str_), inverse.reshape(ids.shape).astype(np.int64)


def _blank(buf: NDArray[np.uint8]) -> NDArray[np.bool_]:
    blank: NDArray[np.bool_] = (buf == ord("\n")) | (buf == ord(" ")) | (buf == ord("\t")) | (buf == ord("\r")) | (
        buf == 11) | (buf == 12)
    return blank


def _fields(buf: NDArray[np.uint8]) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_]]:
    """Fields per line, and masks of each field's first and last byte."""
    newline = buf == ord("\n")
    blank = _blank(buf)
    starts = ~blank
    starts[1:] &= blank[:-1]  # a field starts where a non-blank byte follows a blank one
    ends = ~blank
    ends[:-1] &= blank[1:]
    line_of = np.cumsum(newline)[starts]
    counts: IntArray = np.bincount(line_of, minlength=int(newline.sum()) + 1).astype(np.int64)
    return counts, starts, ends


def _fields_per_line(raw: bytes) -> IntArray:
    """How many whitespace-separated fields each line holds (as ``bytes.split`` sees them), vectorized."""
    return _fields(np.frombuffer(raw, dtype=np.uint8))[0]


def _is_weight(token: bytes) -> bool:
    try:
        value = float(token)
    except ValueError:
        return False
    return math.isfinite(value) and value >= 0


def _label(tokens: list[bytes]) -> tuple[NDArray[np.str_], IntArray]:
    """Distinct node ids (sorted: numerically when all are integers) and each token's index."""
    array = np.array(tokens)
    if array.dtype.itemsize:
        # integers written canonically ("17", not "017" or "+17") are sorted as numbers, much faster
        chars = array.view(np.uint8).reshape(len(array), array.dtype.itemsize)
        first, second = chars[:, 0], chars[:, 1] if array.dtype.itemsize > 1 else np.zeros(len(array), np.uint8)
        canonical = not np.any(((first == ord("0")) & (second != 0)) | (first == ord("+")) | (first == ord("-")))
        if canonical:
            try:
                numbers = array.astype(np.int64)
            except (ValueError, OverflowError):
                pass
            else:
                ids_n, labels = np.unique(numbers, return_inverse=True)
                return ids_n.astype(np.str_), labels.astype(np.int64)
    ids, labels = np.unique(array, return_inverse=True)
    return np.char.decode(ids, "utf-8", "replace").astype(np.str_), labels.astype(np.int64)


def pagerank_file(path: Path, *, alpha: float = DEFAULT_ALPHA, tol: float = DEFAULT_TOL,
                  max_iter: int = DEFAULT_MAX_ITER) -> tuple[Edges, PageRank]:
    edges = read_edges(path)
    return edges, pagerank(edges.source, edges.target, edges.weight, edges.n, alpha=alpha, tol=tol,
                           max_iter=max_iter)


__all__ = ["DEFAULT_ALPHA", "DEFAULT_TOL", "Edges", "PageRank", "pagerank", "pagerank_file", "percentiles",
           "read_edges"]
