"""Library notices we cannot fix, silenced where they arise, so that a normal clone, say or mask
prints only our own lines: deprecations inside encodec 0.1.1 (weight_norm), TorchScript
(``jit.load``/``jit.trace``) and torch 2.1 (TypedStorage, on every load), transformers' notes while
HuBERT loads or is traced (a ``loss_type`` it does not know, unused weights, its loading bar) and
while Bark's tokenizer loads. ``--debug`` shows them all (:data:`SHOW`).
"""

from __future__ import annotations

import contextlib
import warnings

SHOW = False  # set by the command line's --debug: nothing is silenced


@contextlib.contextmanager
def quiet(*categories: type[Warning], transformers: bool = False):
    """Within: warnings of ``categories`` (all, if none is named) are not shown, nor, with
    ``transformers``, that library's log lines below errors and its progress bars."""
    if SHOW:
        yield
        return
    with warnings.catch_warnings(), _transformers_quiet() if transformers else contextlib.nullcontext():
        for category in categories or (Warning,):
            warnings.simplefilter("ignore", category)
        yield


@contextlib.contextmanager
def _transformers_quiet():
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
