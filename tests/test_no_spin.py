"""No handler can spin: a tqdm-tracking gr.Progress with no queue event behind it is switched off.

audio-webui's Generate declares ``gr.Progress(track_tqdm=True)``; called through gradio 3's
``/run/predict`` (no queue), every tqdm loop in the call iterated that Progress, whose iterator
returns itself forever: Bark's coarse loop held both cores until the host was restarted. Gradio 5
and 6 patch tqdm only inside a queued call, so the trap is 3.x's; the guard is the same in every
version. This runs in both stacks; the real host is called in test_host_audio_webui.
"""

from __future__ import annotations

import gradio as gr
import tqdm
from gradio.context import LocalContext

from hubert_quant import ui
from hubert_quant.ui import gradio_compat as compat


def bark_like_loop() -> list:
    """Bark's loops iterate a tqdm over a range; at most 10 items are taken, so the trap shows as 10."""
    return [x for _, x in zip(range(10), tqdm.tqdm(range(3), disable=False), strict=False)]


def test_a_handler_called_outside_the_queue_runs_its_loops_to_their_end():
    progress = gr.Progress(track_tqdm=True)  # patches tqdm, as the host's Generate does at import
    token = LocalContext.progress.set(progress)  # what Gradio sets around a track_tqdm call
    try:
        if compat.LEGACY:
            assert len(bark_like_loop()) == 10  # the trap itself: without the queue the loop never ends
        assert ui.readable(bark_like_loop)() == [0, 1, 2]
        assert LocalContext.progress.get() is progress  # put back for the host's own code after ours
    finally:
        LocalContext.progress.reset(token)


def test_outside_any_gradio_call_loops_are_left_alone():
    assert ui.readable(bark_like_loop)() == [0, 1, 2]
