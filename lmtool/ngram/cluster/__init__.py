"""N-gram estimation on a Dask cluster: the same model as in memory, from text spread over machines.

``fit-ngram --cluster ADDRESS`` (a running scheduler) or ``--cluster local:N`` (N worker
processes on this machine) runs the estimation as distributed stages, with Dask doing the
shuffles; each task calls the numpy stages of the in-memory fit on its share. Read top to bottom
in :func:`~.fit.fit_cluster`, after :func:`~.fit.plan_fit` has checked the options and cut
the files into parts on the client::

    from lmtool.ngram.cluster import fit_cluster, open_cluster, plan_fit
    plan = plan_fit("shards/*.txt.gz", 5, "modified-kneser-ney", part_bytes=64 << 20)
    with open_cluster("tcp://scheduler:8786") as (client, info):   # or "local:4"
        model, stats = fit_cluster(plan, client)

The stages:

1. **vocabulary** (:mod:`.inputs`): the files cut into parts at line starts; each part read,
   tokenized and interned once; type counts summed by a tree of tasks; the text layer's
   vocabulary rule applied to them (the same ids);
2. **counting** (:mod:`.counting`): each part counted by today's counter (``count_padded``, with
   the ``order - 1`` overlap of stream units), its counts dealt out by the n-gram's last word;
3. **adjusted counts** (:mod:`.suffix`), by last word: n-grams and their suffixes meet, so the
   continuation counts and KenLM's statistics are partition-local;
4. **discounts** (:mod:`.estimate`, on the client): the partitions' counts-of-counts summed;
5. **initial probabilities and interpolation** (:mod:`.estimate`): a shuffle by context gives
   each context's totals and its continuations with adjusted counts 1, 2, 3+ (u and the backoff
   weights), and a shuffle back by last word joins every n-gram with its suffix's probability;
6. **the model**, written by partition and never gathered (``fit_cluster(..., model_file=PATH,
   arpa=PATH)``, ``fit-ngram --cluster ... -o M.lmt --arpa M.arpa``): the workers write the
   compact model file (:mod:`.lmt_parts`: per order, a shuffle to each n-gram's prefix for its
   row, a shuffle by hash range, each range's slice of the arrays as part files) and the ARPA
   file (:mod:`.arpa_parts`: each partition's lines), the client joins the parts; or, with
   neither (and for ``--quantise``, whose bins need a whole order's values), gathered
   (:func:`~.fit.assemble`): the partitions' tables sorted into lmtool's tables.

Methods: modified Kneser-Ney (with ``--prune`` and ``--discount-fallback``) and Kneser-Ney;
others are a usage error naming these. A gathered model's tables must fit in the client's memory
(as they must for every lmtool model); a model written by partition never passes through it: the
counts, every intermediate table and the model's parts live on the workers.
This package imports Dask; nothing else in lmtool imports it.
"""

from lmtool.ngram.cluster.engine import ClusterInfo, open_cluster
from lmtool.ngram.cluster.estimate import CLUSTER_METHODS
from lmtool.ngram.cluster.fit import ClusterFit, ClusterStats, ClusterWritten, fit_cluster, plan_fit
from lmtool.ngram.cluster.inputs import DEFAULT_PART_BYTES

__all__ = ["CLUSTER_METHODS", "DEFAULT_PART_BYTES", "ClusterFit", "ClusterInfo", "ClusterStats", "ClusterWritten",
           "fit_cluster", "open_cluster", "plan_fit"]
