"""ARPA files: read any KenLM or SRILM backoff model, write every normalised lmtool model.

Format (log10 values)::

    \\data\\
    ngram 1=3
    ngram 2=2

    \\1-grams:
    -1.2\\t<s>\\t-0.3          prob, words, optional backoff (tabs or spaces)
    ...
    \\end\\

Reading accepts what real files contain: blank lines anywhere, ``-99`` (SRILM) or ``0``
(KenLM) as the ``<s>`` probability, a missing backoff meaning 0, ``.gz`` compression, and
SRILM pruned files that list an n-gram whose prefix is not listed (the prefix is added as an
unlisted context row holding its backed-off probability, so scores are exact and re-export
writes only what was read). Files without ``<unk>`` get an unlisted ``<unk>`` of log10 -99.
Anything else malformed raises :class:`ModelFileError` naming the line.
"""

from __future__ import annotations

import gzip
import io
import os
import pathlib
import re

import numpy as np

from lmtool.errors import ModelFileError
from lmtool.ngram.tables import BackoffTables, _lookup, find_rows, log10_prob

SPECIALS = ("<unk>", "<s>", "</s>")
_HEADER = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")


def _open_text(path: pathlib.Path):
    """Open a (maybe gzipped) ARPA file as text, or raise ModelFileError."""
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise ModelFileError(f"cannot open ARPA file {path}: {error.strerror}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="strict")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict")


def _lines(path: pathlib.Path):
    """(line number, stripped line) of every non-blank line; decoding errors name the line."""
    with _open_text(path) as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                stripped = line.strip()
                if stripped:
                    yield number, stripped
        except (UnicodeDecodeError, EOFError, OSError, gzip.BadGzipFile) as error:
            raise ModelFileError(f"{path}: line {number + 1}: unreadable ({error}); is this an ARPA file?") from None


def read_arpa_tables(path: str | os.PathLike) -> tuple[list[str], BackoffTables]:
    """Parse an ARPA file into its vocabulary (ids 0-2 are <unk> <s> </s>) and backoff tables."""
    path = pathlib.Path(path)
    sections = _read_sections(path)
    parsed = [_parse_section(path, k, *sections[k][1:]) for k in range(1, len(sections) + 1)]
    tokens = list(SPECIALS) + [w for w in parsed[0][0][:, 0] if w not in SPECIALS]
    index = {w: i for i, w in enumerate(tokens)}
    if len(index) != len(tokens):
        raise ModelFileError(f"{path}: the \\1-grams: section lists a word twice")
    grams, probs, backoffs = [], [], []
    for k, (words, prob, backoff, numbers) in enumerate(parsed):
        flat = words.reshape(-1)
        ids = np.fromiter((index.get(w, -1) for w in flat), dtype=np.int64, count=len(flat)).reshape(words.shape)
        if (ids < 0).any():
            bad = int(np.argmax((ids < 0).any(axis=1)))
            raise ModelFileError(f"{path}: line {numbers[bad]}: a {k + 1}-gram uses a word missing from the unigrams")
        grams.append(ids)
        probs.append(prob)
        backoffs.append(backoff)
    return tokens, build_tables(grams, probs, backoffs, len(tokens))


def _read_sections(path: pathlib.Path) -> dict[int, tuple[int, list[str], list[int]]]:
    """k -> (line number of the ``\\k-grams:`` header, its entry lines, their line numbers) for
    k = 1..order, checked against the counts the ``\\data\\`` header promises."""
    expected, sections, ended, number = _scan_sections(path)
    if not expected:
        raise ModelFileError(f"{path}: the \\data\\ header lists no n-gram counts")
    order = max(expected)
    if sorted(expected) != list(range(1, order + 1)):
        raise ModelFileError(f"{path}: the header must list orders 1..{order}, got {sorted(expected)}")
    if not ended:
        raise ModelFileError(f"{path}: line {number}: file ends before \\end\\ (truncated?)")
    for k in range(1, order + 1):
        if k not in sections:
            raise ModelFileError(f"{path}: the \\{k}-grams: section is missing (truncated?)")
        header_line, body, _ = sections[k]
        if len(body) != expected[k]:
            raise ModelFileError(
                f"{path}: line {header_line}: the \\{k}-grams: section has {len(body)} entries "
                f"but the header promises {expected[k]} (truncated or edited file?)"
            )
    return sections


def _scan_sections(path: pathlib.Path) -> tuple[dict[int, int], dict, bool, int]:
    """One pass over the lines: the header's counts (k -> promised entries), the sections (as
    :func:`_read_sections` returns them), whether ``\\end\\`` was reached, the last line number."""
    lines = _lines(path)
    expected: dict[int, int] = {}
    number, line = next(lines, (0, ""))
    while line != "\\data\\":
        if number == 0:
            raise ModelFileError(f"{path}: no \\data\\ header: not an ARPA file")
        number, line = next(lines, (0, ""))
    sections: dict[int, tuple[int, list[str], list[int]]] = {}
    current: list[str] | None = None
    numbers: list[int] = []
    for number, line in lines:
        header = _HEADER.match(line)
        section = _SECTION.match(line)
        if header and not sections:
            expected[int(header.group(1))] = int(header.group(2))
        elif section:
            k = int(section.group(1))
            if k not in expected or k in sections:
                raise ModelFileError(f"{path}: line {number}: unexpected section {line!r}")
            current, numbers = [], []
            sections[k] = (number, current, numbers)
        elif line == "\\end\\":
            return expected, sections, True, number
        elif current is None:
            raise ModelFileError(f"{path}: line {number}: expected 'ngram N=COUNT' or a section, got {line[:40]!r}")
        else:
            current.append(line)
            numbers.append(number)
    return expected, sections, False, number


def _parse_section(path: pathlib.Path, k: int, body: list[str], numbers: list[int]):
    """Words (m, k) of str, log10 probs, log10 backoffs and the line numbers of a section's entries."""
    fields = [line.split() for line in body]
    lengths = np.fromiter(map(len, fields), dtype=np.int64, count=len(fields))
    bad = np.flatnonzero((lengths != k + 1) & (lengths != k + 2))
    if len(bad):
        raise ModelFileError(
            f"{path}: line {numbers[bad[0]]}: a {k}-gram line needs a probability, {k} word(s) and an optional backoff"
        )
    words = np.array([f[1 : k + 1] for f in fields], dtype=object).reshape(len(fields), k)
    try:
        prob = np.array([f[0] for f in fields], dtype=np.float64)
        backoff = np.array([f[k + 1] if len(f) == k + 2 else "0" for f in fields], dtype=np.float64)
    except ValueError:
        for offset, f in enumerate(fields):
            try:
                [float(x) for x in (f[0], *f[k + 1 :])]
            except ValueError:
                raise ModelFileError(f"{path}: line {numbers[offset]}: not a number in {' '.join(f)[:60]!r}") from None
    return words, prob, backoff, numbers


def build_tables(grams: list[np.ndarray], probs: list[np.ndarray], backoffs: list[np.ndarray], vocab: int) -> BackoffTables:
    """Sorted, prefix-closed tables from unsorted ARPA entries (unlisted ids/prefixes added)."""
    order = len(grams)
    # the unigram table holds every id; ids the file does not list get -99 and listed False
    uni_prob = np.full(vocab, -99.0)
    uni_back = np.zeros(vocab)
    uni_listed = np.zeros(vocab, dtype=bool)
    ids = grams[0][:, 0]
    uni_prob[ids], uni_back[ids], uni_listed[ids] = probs[0], backoffs[0], True
    fast = _prefix_closed_tables(grams, probs, backoffs, vocab, uni_prob, uni_back, uni_listed)
    if fast is not None:
        return fast
    # needed[k]: the listed k-grams plus every prefix of a needed (k+1)-gram
    needed = [None] * order
    for k in range(order - 1, 0, -1):
        rows = grams[k]
        if k + 1 < order:
            rows = np.concatenate([rows, needed[k + 1][:, :-1]])
        needed[k] = np.unique(rows, axis=0) if len(rows) else rows.reshape(0, k + 1)
    tables = BackoffTables(order=1, vocab_size=vocab, ngrams=[np.arange(vocab, dtype=np.int32)[:, None]],
                           log10_probs=[uni_prob], log10_backoffs=[uni_back], listed=[uni_listed])
    for k in range(1, order):
        rows = needed[k]
        m = len(rows)
        sorter = np.lexsort(grams[k].T[::-1])
        listed_grams = grams[k][sorter]
        # rows and listed_grams are both lexicographically sorted; match them
        position = _match_rows(rows, listed_grams)
        listed = position >= 0
        prob = np.zeros(m)
        back = np.zeros(m)
        prob[listed] = probs[k][sorter][position[listed]]
        back[listed] = backoffs[k][sorter][position[listed]]
        tables.ngrams.append(rows.astype(np.int32))
        tables.log10_probs.append(prob)
        tables.log10_backoffs.append(back)
        tables.listed.append(listed)
        tables.order = k + 1
        if not listed.all():
            # an unlisted prefix h w gets what backing off gives: backoff(h) + log10 p(w | h[1:])
            lower = BackoffTables(order=k, vocab_size=vocab, ngrams=tables.ngrams[:k],
                                  log10_probs=tables.log10_probs[:k], log10_backoffs=tables.log10_backoffs[:k])
            missing = rows[~listed].astype(np.int64)
            context = find_rows(lower, k - 1, missing[:, :-1])
            prob[~listed] = tables.log10_backoffs[k - 1][context] + log10_prob(lower, missing[:, 1:])
    tables._keys = None
    return tables


def _prefix_closed_tables(grams, probs, backoffs, vocab, uni_prob, uni_back, uni_listed) -> BackoffTables | None:
    """The tables when every listed n-gram's prefix is listed (KenLM files, most SRILM ones): one
    key sort per order. None when some prefix is missing, for :func:`build_tables`'s general path."""
    tables = BackoffTables(order=1, vocab_size=vocab, ngrams=[np.arange(vocab, dtype=np.int32)[:, None]],
                           log10_probs=[uni_prob], log10_backoffs=[uni_back])
    keys = [np.arange(vocab, dtype=np.int64)]
    for k in range(1, len(grams)):
        g = grams[k]
        rows = g[:, 0]
        for j in range(1, k):
            rows = _lookup(keys[j], rows * vocab + g[:, j])
        if (rows < 0).any():
            return None
        key = rows * vocab + g[:, -1]
        perm = np.argsort(key)
        key = key[perm]
        if len(key) > 1 and (key[1:] == key[:-1]).any():
            return None  # a repeated n-gram: the general path keeps one
        keys.append(key)
        tables.ngrams.append(g[perm].astype(np.int32))
        tables.log10_probs.append(probs[k][perm])
        tables.log10_backoffs.append(backoffs[k][perm])
        tables.order = k + 1
    if not uni_listed.all():
        tables.listed = [uni_listed] + [np.ones(len(g), dtype=bool) for g in tables.ngrams[1:]]
    tables._keys = keys
    return tables


def _match_rows(rows: np.ndarray, sorted_grams: np.ndarray) -> np.ndarray:
    """For each row of ``rows``, its index in ``sorted_grams`` (-1 if absent); both lex-sorted."""
    if len(sorted_grams) == 0:
        return np.full(len(rows), -1, dtype=np.int64)
    both = np.concatenate([rows, sorted_grams])
    _, inverse = np.unique(both, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    lookup = np.full(inverse.max() + 1, -1, dtype=np.int64)
    lookup[inverse[len(rows) :]] = np.arange(len(sorted_grams))
    return lookup[inverse[: len(rows)]]


def format_arpa(tokens: list[str], tables: BackoffTables) -> str:
    """The ARPA text of ``tables`` (only listed rows; no backoff column at the highest order)."""
    words = np.array(tokens, dtype=object)
    out = ["", "\\data\\"]
    out += [f"ngram {k + 1}={n}" for k, n in enumerate(tables.n_listed())]
    for k in range(tables.order):
        keep = np.ones(len(tables.ngrams[k]), dtype=bool) if tables.listed is None else tables.listed[k]
        grams = words[tables.ngrams[k][keep]]
        text = grams[:, 0].astype(object)
        for j in range(1, k + 1):
            text = text + " " + grams[:, j]
        # -inf (an impossible event, e.g. <s> as a word) is written -99, as SRILM does
        probs = [f"{p:.9g}" for p in np.where(np.isfinite(tables.log10_probs[k]), tables.log10_probs[k], -99.0)[keep]]
        out += ["", f"\\{k + 1}-grams:"]
        if k == tables.order - 1:
            out += [f"{p}\t{w}" for p, w in zip(probs, text)]
        else:
            backs = [f"{b:.9g}" for b in tables.log10_backoffs[k][keep]]
            out += [f"{p}\t{w}\t{b}" for p, w, b in zip(probs, text, backs)]
    out += ["", "\\end\\", ""]
    return "\n".join(out)
