"""Work on a stream of items on a few threads, the results handed over in the items' order.

numpy releases the interpreter lock inside its array operations, so blocks of array work (a
block of text scored by ``query``, a block of ARPA lines made by the writer) run on two cores
at once from plain threads; the results come back in order, so the output is the same as on one.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

Item, Result = TypeVar("Item"), TypeVar("Result")


def in_order(work: Callable[[Item], Result], items: Iterable[Item], threads: int) -> Iterator[Result]:
    """``work(item)`` for each item, in order, computed on ``threads`` threads with at most two
    items per thread in flight (the first one alone, before any thread starts: it may set up
    what the others share, such as mapping a model's arrays)."""
    items = iter(items)
    first = next(items, None)
    if first is None:
        return
    yield work(first)
    del first  # not held while the next items are read
    if threads <= 1:
        yield from map(work, items)
        return
    from concurrent.futures import ThreadPoolExecutor  # 0.2 MiB of modules a single thread does without

    with ThreadPoolExecutor(threads) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
