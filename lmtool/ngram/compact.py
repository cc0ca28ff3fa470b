"""The n-gram tables of a compact model file: hash-indexed rows, bit-packed, read through a memory map.

Per order k (k+1 words), in the container of :mod:`lmtool.ngram.container`::

    k.pointers, k.quotients     the order's :class:`~lmtool.ngram.hashing.BucketIndex` (k >= 1);
                                the unigram row of word w is w, no index needed
    k.prob [, k.prob.codebook]  log10 probabilities, a :class:`~lmtool.ngram.values.ValueColumn`
    k.backoff [, ...codebook]   log10 backoff weights (not stored at the highest order)
    k.listed                    1 bit per row, only for ARPA models with unlisted context rows

Rows are stored in hash order, not in lexicographic order: an n-gram's key is the row of its
prefix one order down times V plus its last word, so finding the rows of every n-gram of a
stream is one hash lookup per order, as in KenLM's probing model, while the index costs about
25 bits per n-gram instead of probing's 64-bit keys and empty slots. On Brown (order 5, 2.27
million n-grams) the file takes about 8.6 bytes per n-gram; KenLM's trie takes 10.2.

"Without loss" means: every value is a float32 (KenLM stores float32 too, and prints ARPA
values with float32 precision, so a KenLM ARPA file converts exactly); scores computed from a
compact file are bit-identical to the in-memory :class:`~lmtool.ngram.tables.BackoffTables`
holding the same float32 values (``decode()`` returns exactly those tables); lmtool's own float64
estimates move by at most a float32 rounding (about 6e-8 relative per value), which leaves
Brown's perplexities equal to lmplz's to the printed precision (147.70 and 146.74). The
quantised variant (``quantise=8``) keeps the unigrams exact and stores the other orders'
values as 8-bit codes into per-order codebooks (see :mod:`lmtool.ngram.values`).
"""

from __future__ import annotations

import numpy as np

from lmtool.errors import ModelFileError
from lmtool.ngram.bitpack import U64, pack, stored_dtype, unpack, words_for
from lmtool.ngram.container import Container
from lmtool.ngram.hashing import MULTIPLIER, BucketIndex
from lmtool.ngram.tables import BackoffTables, _lookup
from lmtool.ngram.values import ValueColumn, encode_exact, quantise


def layout(tables: BackoffTables, bits: int | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """The header entry and the arrays of ``tables`` in compact form (values quantised to
    ``bits`` bits above the unigrams when ``bits`` is given)."""
    V, order = tables.vocab_size, tables.order
    orders, arrays = [], {}
    for k in range(order):
        m = len(tables.ngrams[k])
        info: dict = {"entries": m}
        if k:
            # compact row of the prefix * V + last word, made in place (neither is negative)
            packed = rows[tables.prefix_rows(k)]
            packed *= V
            packed += tables.ngrams[k][:, -1]
            info, index_arrays, permutation = hash_order(k, packed.view(U64), len(tables.ngrams[k - 1]), V)
            del packed
            arrays.update(index_arrays)
            rows = np.empty(m, dtype=np.int64)  # compact row of each lexicographic row of this order
            rows[permutation] = np.arange(m)
        else:
            permutation = rows = np.arange(m)  # the unigram of word w is row w
        for kind, values in _kinds(tables, k):
            column_arrays, info[kind] = stored_column(f"{k}.{kind}", _encode(values, k, kind, bits, permutation))
            arrays.update(column_arrays)
        if tables.listed is not None:
            arrays[f"{k}.listed"] = pack(tables.listed[k][permutation], 1)
        orders.append(info)
    entry = tables_entry(V, orders, tables.n_listed(), bits, suffix_closed(tables), tables.listed is not None)
    return entry, arrays


def hash_order(k: int, keys: np.ndarray, prefixes: int,
               vocab_size: int) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
    """Order ``k``'s index of ``keys`` (prefix row * V + last word, over ``prefixes`` rows one
    order down; a uint64 array made for the call, which this overwrites): its description in
    the header (entries, key and bucket bits), its arrays, and the permutation to hash order
    (row ``r`` holds the ``permutation[r]``-th key)."""
    key_bits = int(prefixes * vocab_size - 1).bit_length()
    index, permutation = BucketIndex.build(keys, key_bits, consume=True)
    info = {"entries": len(keys), "key_bits": key_bits, "bucket_bits": index.bucket_bits}
    return info, {f"{k}.pointers": index.pointers, f"{k}.quotients": index.quotients}, permutation


def tables_entry(vocab_size: int, orders: list[dict], ngrams: list[int], quantised: int | None, closed: bool,
                 listed: bool) -> dict:
    """The header entry of the tables: V, each order's description (entries, index and value
    widths), the n-grams listed per order, the quantisation, whether :func:`suffix_closed`."""
    return {"vocabulary_size": vocab_size, "orders": orders, "ngrams": ngrams, "quantised": quantised,
            "suffix_closed": closed, "hash_multiplier": MULTIPLIER, "listed": listed}


def stored_column(name: str, column: ValueColumn) -> tuple[dict, dict]:
    """The arrays of the value column ``name`` (such as "2.prob": its codes, and its codebook if
    it has one) and its description in the header (its width, whether it has a codebook)."""
    arrays = {name: column.codes}
    if column.codebook is not None:
        arrays[f"{name}.codebook"] = column.codebook
    return arrays, {"width": column.width, "codebook": column.codebook is not None}


def suffix_closed(tables: BackoffTables) -> bool:
    """Whether every n-gram's suffix (all its words but the first) is an n-gram of the tables
    (true of every model lmtool or lmplz estimates; SRILM's pruning can break it).

    Order by order from the lookup keys: the suffix of the n-gram with key ``r * V + w`` is
    (the suffix of prefix row ``r``) followed by ``w``, so with each row's suffix row known one
    order down, one binary search per n-gram finds its suffix (a bigram's suffix is its word)."""
    if tables.suffix_closed:  # established when the tables were built (an ARPA file in suffix order)
        return True
    V, keys = tables.vocab_size, tables.keys
    suffix_rows = keys[1] % V if tables.order > 1 else None
    for k in range(2, tables.order):
        suffix_rows = _lookup(keys[k - 1], suffix_rows[keys[k] // V] * V + keys[k] % V)
        if (suffix_rows < 0).any():
            return False
    return True


def stored_tables(tables: BackoffTables, bits: int | None = None) -> BackoffTables:
    """The tables a compact file written from ``tables`` (with ``quantise=bits``) holds, without
    writing it: the same n-grams, every value as stored (float32, or its quantised centre)."""
    probs, backoffs = [], []
    for k in range(tables.order):
        columns = {kind: _stored(values, k, kind, bits) for kind, values in _kinds(tables, k)}
        probs.append(columns["prob"])
        backoffs.append(columns.get("backoff", np.zeros(len(tables.ngrams[k]))))
    stored = BackoffTables(order=tables.order, vocab_size=tables.vocab_size, ngrams=tables.ngrams,
                           log10_probs=probs, log10_backoffs=backoffs, listed=tables.listed, prefixes=tables.prefixes)
    stored._keys = tables._keys  # the same rows: share the lookup keys if they were built
    stored.suffix_closed = tables.suffix_closed
    return stored


def _stored(values: np.ndarray, k: int, kind: str, bits: int | None) -> np.ndarray:
    """The values order ``k``'s ``kind`` column gives back once stored: exact columns are the float32
    rounding whether raw or a codebook (so no codebook is built here), quantised ones their centres."""
    if bits is None or k == 0:
        return np.asarray(values, dtype=np.float32).astype(np.float64)
    return _encode(values, k, kind, bits).all()


def _encode(values: np.ndarray, k: int, kind: str, bits: int | None,
            permutation: np.ndarray | slice = slice(None)) -> ValueColumn:
    """The stored column of order ``k``'s ``kind`` values taken in ``permutation``'s order: exact
    float32 (rounded first: half the bytes to permute), or quantised to ``bits`` (unigrams stay
    exact, as in KenLM; a backoff of 0 keeps a code of its own)."""
    if bits is None or k == 0:
        return encode_exact(np.asarray(values, dtype=np.float32)[permutation])
    return quantise(values[permutation], bits, exact=(0.0,) if kind == "backoff" else ())


def value_kinds(k: int, order: int) -> tuple[str, ...]:
    """The value columns of order ``k`` of a model of ``order``: probabilities, and backoffs
    below the highest order."""
    return ("prob", "backoff") if k < order - 1 else ("prob",)


def _kinds(tables: BackoffTables, k: int) -> list[tuple[str, np.ndarray]]:
    """The value columns of order ``k`` with their values (see :func:`value_kinds`)."""
    values = {"prob": tables.log10_probs[k], "backoff": tables.log10_backoffs[k]}
    return [(kind, values[kind]) for kind in value_kinds(k, tables.order)]


#: bucket pointers compared at a time when an index is first read
CHECK_RUN = 1 << 15


def _descends(values: np.ndarray) -> bool:
    """Whether ``values`` ever decrease, compared :data:`CHECK_RUN` at a time: a mask of them all
    (256 KiB for an order of Brown's) would be made while query scores its first block."""
    for lo in range(0, len(values) - 1, CHECK_RUN):
        hi = min(lo + CHECK_RUN, len(values) - 1)
        if (values[lo + 1 : hi + 1] < values[lo:hi]).any():
            return True
    return False


class CompactTables:
    """The tables of a compact file, answering the lookup methods of :mod:`lmtool.ngram.tables`
    from the memory map; each order's arrays are read (and checked) when first used."""

    def __init__(self, container: Container, entry: dict) -> None:
        self._container = container
        try:
            self.vocab_size = int(entry["vocabulary_size"])
            self._orders = [dict(info) for info in entry["orders"]]
            self._listed_counts = [int(n) for n in entry["ngrams"]]
            self._has_listed = bool(entry["listed"])
            self.suffix_closed = bool(entry["suffix_closed"])
            sane = entry["hash_multiplier"] == MULTIPLIER and len(self._listed_counts) == len(self._orders)
            sane &= self._orders[0]["entries"] == self.vocab_size >= 3 and len(self._orders) >= 1
        except (KeyError, TypeError, ValueError, IndexError):
            sane = False
        if not sane:
            raise ModelFileError(f"{container.path}: invalid model: its n-gram header is incomplete or inconsistent")
        self.order = len(self._orders)
        self._indexes: dict[int, BucketIndex] = {}
        self._columns: dict[tuple[int, str], ValueColumn] = {}
        self._decoded: BackoffTables | None = None

    def n_listed(self) -> list[int]:
        """Number of n-grams per order an ARPA file lists (from the header)."""
        return list(self._listed_counts)

    def child_rows(self, k: int, prefix_rows: np.ndarray, words: np.ndarray) -> np.ndarray:
        """Rows at order ``k`` of the n-grams (prefix row, word); -1 where not listed."""
        keys = np.multiply(prefix_rows, U64(self.vocab_size), dtype=U64, casting="unsafe")
        np.add(keys, words, out=keys, dtype=U64, casting="unsafe")  # numpy adds uint64 and int64 as float64
        del prefix_rows, words  # a caller's temporaries are freed here, not held through the lookup
        return self.index(k).find(keys, consume=True)

    def probs(self, k: int, rows: np.ndarray) -> np.ndarray:
        return self.column(k, "prob").take(rows)

    def backoffs(self, k: int, rows: np.ndarray) -> np.ndarray:
        return self.column(k, "backoff").take(rows)

    def backoff_tables(self) -> BackoffTables:
        """The lexicographic :class:`BackoffTables` holding exactly these values (decoded once)."""
        if self._decoded is None:
            self._decoded = self.decode()
        return self._decoded

    # -- reading the arrays ---------------------------------------------------------------------
    def _array(self, name: str, width: int, count: int, check=None, native: bool = True) -> np.ndarray:
        expected = words_for(count, width, native)

        def checked(array: np.ndarray) -> str | None:
            if len(array) != expected:
                return f"has {len(array):,} words, its header implies {expected:,}"
            return check(array) if check else None

        return self._container.array(name, stored_dtype(width, native).str, checked)

    def index(self, k: int) -> BucketIndex:
        """The hash index of order ``k`` >= 1, its pointers checked (monotone, ending at the
        row count) so that no lookup can read outside the arrays."""
        if k not in self._indexes:
            info = self._orders[k]
            try:
                m, bits, bucket_bits = int(info["entries"]), int(info["key_bits"]), int(info["bucket_bits"])
                if not (0 <= bucket_bits <= bits <= 64 and m >= 0):
                    raise ValueError
            except (KeyError, TypeError, ValueError):
                raise ModelFileError(f"{self._container.path}: invalid model: order {k + 1}'s index is described wrongly") from None
            width, count = BucketIndex.pointer_width, (1 << bucket_bits) + 1

            def monotone(pointers: np.ndarray) -> str | None:
                # plain uint32 (the pointer width), compared where they lie: int64 copies of the
                # 2**18 pointers were the largest arrays query made, and glibc kept their memory
                if pointers[0] != 0 or pointers[-1] != m or _descends(pointers):
                    return "are not the sorted bucket starts of the header's row count (corrupt file?)"
                return None

            pointers = self._array(f"{k}.pointers", width, count, monotone)
            quotients = self._array(f"{k}.quotients", bits - bucket_bits, m, native=False)
            self._indexes[k] = BucketIndex(m, bits, bucket_bits, pointers, quotients)
        return self._indexes[k]

    def column(self, k: int, kind: str) -> ValueColumn:
        """The ``kind`` ("prob" or "backoff") values of order ``k``, checked for NaN and +inf."""
        if (k, kind) not in self._columns:
            try:
                spec, m = self._orders[k][kind], int(self._orders[k]["entries"])
                width, has_codebook = int(spec["width"]), bool(spec["codebook"])
                if not (0 <= width <= 32) or has_codebook == (width == 32):
                    raise ValueError
            except (KeyError, TypeError, ValueError):
                raise ModelFileError(f"{self._container.path}: invalid model: order {k + 1}'s {kind} "
                                     "column is described wrongly") from None
            name = f"{k}.{kind}"
            if has_codebook:
                codebook = self._container.array(f"{name}.codebook", "<f4", _finite_values(1 << width))
                codes = self._array(name, width, m)
            else:
                codebook, codes = None, self._container.array(name, "<f4", _finite_values(m))
            self._columns[(k, kind)] = ValueColumn(codebook, codes, width, m)
        return self._columns[(k, kind)]

    def decode(self) -> BackoffTables:
        """Every n-gram with its values, as lexicographically sorted :class:`BackoffTables`."""
        V = self.vocab_size
        grams = np.arange(V, dtype=np.int64)[:, None]  # in compact row order
        tables = BackoffTables(order=self.order, vocab_size=V, ngrams=[], log10_probs=[], log10_backoffs=[],
                               listed=[] if self._has_listed else None)
        for k in range(self.order):
            permutation = np.arange(V)
            if k:
                keys = self.index(k).keys()
                prefix, words = (keys // U64(V)).astype(np.int64), (keys % U64(V)).astype(np.int64)
                if len(prefix) and prefix.max() >= len(grams):
                    raise ModelFileError(f"{self._container.path}: invalid model: order {k + 1} names prefixes "
                                         "that do not exist (corrupt file?)")
                grams = np.concatenate([grams[prefix], words[:, None]], axis=1)
                permutation = np.lexsort(grams.T[::-1])
            m = len(permutation)
            tables.ngrams.append(grams[permutation].astype(np.int32))
            tables.log10_probs.append(self.column(k, "prob").all()[permutation])
            tables.log10_backoffs.append(self.column(k, "backoff").all()[permutation] if k < self.order - 1
                                         else np.zeros(m))
            if self._has_listed:
                listed = self._array(f"{k}.listed", 1, m)
                tables.listed.append(unpack(listed, 1, permutation).astype(bool))
        return tables


def _finite_values(count: int):
    """A check that a float32 array holds ``count`` values, none NaN or +inf."""

    def check(values: np.ndarray) -> str | None:
        if len(values) != count:
            return f"has {len(values):,} values, its header implies {count:,}"
        largest = values.max(initial=-np.inf)  # NaN if any is: no mask of the column is made
        if np.isnan(largest) or largest == np.inf:
            return "holds NaN or +inf values (a log10 probability or backoff must be a number)"
        return None

    return check
