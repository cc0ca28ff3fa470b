"""Where memory pays: analyses of what a model's context buys, over the :class:`lmtool.lm.LanguageModel` API.

One module per analysis, each with its figures, table and plot:

- :mod:`~lmtool.analysis.context_curve`: perplexity when a model may see only the last K tokens
  (Khandelwal et al. 2018 for recurrent models; an n-gram's order for n-grams);
- :mod:`~lmtool.analysis.attribution`: the per-token gain of one model over another, in bits,
  grouped by training frequency, n-gram novelty, distance to the last occurrence and position;
- :mod:`~lmtool.analysis.colour_view`: the text shaded token by token by that gain, as HTML;
- :mod:`~lmtool.analysis.gradient_flow`: how far back a recurrent model's gradients reach;
- :mod:`~lmtool.analysis.report`: ``report.html`` of ``lmtool compare``, all of it in one page.

The package never imports torch: what needs it (truncated-context windows, gradients through
time) lives in :mod:`lmtool.neural.memory` and is reached through the model's own methods
(:meth:`~lmtool.lm.LanguageModel.score_contexts`) or, for gradients, imported when called.
"""
