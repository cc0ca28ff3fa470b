"""glibc's malloc, told to keep freed memory while arrays come and go, and to give it back when a phase ends.

Imports nothing of lmtool's: the commands set the policy (:func:`hold_freed_memory`), the code
that knows where a phase ends gives the memory back (:func:`release_freed_memory`).
"""

from __future__ import annotations

import ctypes

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def hold_freed_memory() -> None:
    """Have glibc's malloc keep freed memory for the process's next arrays: arrays of up to
    32 MiB come from the heap and its top is given back only past 256 MiB free.

    Some commands make and free arrays of the same few sizes at every step: the streaming ARPA
    conversion (a few MiB per block and order), ``query`` (up to 250 KiB per array, some 2 MiB
    at once, a block of text at a time). By default glibc maps many of them afresh and trims the
    heap between them, and every page is faulted in again: Brown order 5 converted, 75,000 page
    faults and 0.2 s of system time against 15,000 and 0.07 s, for about 4 MiB less at the peak;
    Brown test x10 queried, 7,200 faults against 6,350, and even 0.2 MiB more at the peak (the
    heap reuses a block's arrays in place). Elsewhere than glibc, nothing changes."""
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def share_one_arena() -> None:
    """Have every thread allocate from glibc's main heap: by default each thread that allocates
    gets an arena of its own, which keeps its freed memory apart. The ARPA writer makes blocks
    of lines on two threads (:data:`lmtool.ngram.arpa.write.WRITER_THREADS`): Brown order 5,
    fit + ARPA, peak 198-202 MiB with an arena per thread against 188 with one (as on one
    thread), the same time (numpy's arrays are a few allocations a block). Set before the
    threads start; elsewhere than glibc, nothing changes."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, 1)


def release_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``), where a phase that
    made and freed many arrays ends and the next needs little: what :func:`hold_freed_memory`
    kept would otherwise stay resident under it. After the streaming ARPA conversion's layout,
    before the file is written (which also maps OpenSSL's 3.4 MiB for the vocabulary's
    fingerprint): Brown order 5, peak 76.6 -> 72.8 MiB, the same time. Elsewhere than glibc,
    nothing happens."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc():
    """The C library's handle, or None where it is not glibc's ``libc.so.6``."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None
