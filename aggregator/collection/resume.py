"""What a run still has to fetch: pure functions over plain data (invariant 5).

A pair (index, subject) is answered once it has a reading, or a failure that asking again
would not change (see :attr:`FailureKind.is_final`). Everything else is fetched (again).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def pending(
    index_names: Sequence[str], subject_ids: Sequence[str], answered: Collection[tuple[str, str]]
) -> dict[str, Sequence[str]]:
    """Subjects still to fetch per index, in roster order.

    >>> pending(["k", "p"], ["a", "b"], {("k", "a"), ("p", "a"), ("p", "b")})
    {'k': ['b'], 'p': []}
    >>> pending(["k", "p"], ("a", "b"), set())
    {'k': ('a', 'b'), 'p': ('a', 'b')}
    """
    if not answered:  # a new run: every index asks the whole roster (one sequence, not a copy each)
        return dict.fromkeys(index_names, subject_ids)
    return {name: [sid for sid in subject_ids if (name, sid) not in answered] for name in index_names}
