"""The Voice masking tab: re-speak a recording through Bark, in a random voice or a speaker's."""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from .. import library
from ..constants import CONSENT
from . import gradio_compat as compat
from .common import PROGRESS, Settings, bark_controls, downloads, output_wav, readable, speaker_names

MODES = ("random voice", "a speaker's voice")


@readable
def do_mask(audio, mode, speaker, upload, seed, coarse_temp, fine_temp, small, settings: Settings,
            progress=PROGRESS):
    """Re-speak ``audio`` in a random voice or a speaker's; returns the output wav path."""
    from ..bark.adapter import BarkOptions
    from ..bark.mask import mask_voice

    if not audio:
        raise compat.error("Upload or record the recording to mask first.")
    upload = compat.path_of(upload)
    settings.check_upload(audio)
    settings.check_upload(upload)
    target = None
    if mode == MODES[1]:
        target = upload or library_or_preset(settings, speaker)
    options = BarkOptions(seed=None if seed in (None, "") else int(seed), coarse_temp=float(coarse_temp),
                          fine_temp=float(fine_temp), small=bool(small), device=settings.device)
    stages = lambda what, step, steps: progress((step, steps), desc=what)  # noqa: E731
    out = mask_voice(audio, speaker=target, options=options, quantizer=settings.quantizer, hubert=settings.hubert,
                     progress=downloads(progress), stages=stages)
    return output_wav(out, settings, "masked")


def library_or_preset(settings: Settings, name: str | None) -> Path:
    """The listed speaker ``name``, or Bark's preset of that name; never a path on the server (nor a
    link: the file is read with :func:`hubert_quant.speaker.load_speaker`, which follows none)."""
    from ..bark.speak import bark_preset

    if name and name in speaker_names(settings):
        return library.existing(settings.speakers_dir, name)
    preset = bark_preset(str(name or ""))
    if preset is None:
        raise compat.error("Pick a speaker from the list, upload a .npz, or type a Bark preset such as "
                           "v2/en_speaker_6.")
    return preset


def mask_tab(settings: Settings) -> None:
    gr.Markdown(f"Re-speak a recording through Bark: the same words, another voice. **{CONSENT}**")
    audio = compat.recording("Recording to mask")
    mode = gr.Radio(list(MODES), value=MODES[0], label="Voice")
    with gr.Row():
        # Read again when opened, so speakers cloned since the page was built appear.
        speaker = compat.refreshing_dropdown(lambda: speaker_names(settings), allow_custom_value=True,
                                             label="Speaker from the library, or a Bark preset")
        upload = compat.file_input("...or upload a speaker .npz", [".npz"])
    seed, coarse_temp, fine_temp, small = bark_controls(settings)
    button = gr.Button("Mask", variant="primary")
    output = gr.Audio(type="filepath", label="Masked (24 kHz)", interactive=False)
    compat.listen(button.click, functools.partial(do_mask, settings=settings),
                  [audio, mode, speaker, upload, seed, coarse_temp, fine_temp, small], output,
                  api_name="mask", concurrency_limit=1)
