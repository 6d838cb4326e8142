"""The optimised pipeline gives the plain pipeline's tokens (speed itself is measured by scripts/bench.py)."""

import numpy as np
import pytest
from conftest import speech_like
from fixtures.plain_pipeline import PlainPipeline

from hubert_quant.audio import resample
from hubert_quant.clone import semantic_tokens
from hubert_quant.constants import CODEC_SAMPLE_RATE, HUBERT_SAMPLE_RATE
from hubert_quant.models import load_models

pytestmark = pytest.mark.slow  # Bark runs, training or long audio: minutes on 2 cores

# docs/performance.md reports the window agreement measured on the real model shapes; the
# tiny models must do at least as well over a window boundary.
WINDOW_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def pipelines(tiny):
    plain = PlainPipeline(tiny / "hubert", tiny / "quantizer-v1.pth",
                                                        tiny / "encodec_24khz.th")
    ours = load_models(str(tiny / "quantizer-v1.pth"), str(tiny / "hubert"), str(tiny / "encodec_24khz.th"),
                       device="cpu")
    return plain, ours


def sides(pipelines, seconds, seed=0):
    plain, (quantizer, hubert, codec) = pipelines
    samples = speech_like(seconds, 22_050, seed=seed)
    at16 = resample(samples, 22_050, HUBERT_SAMPLE_RATE)
    at24 = resample(samples, 22_050, CODEC_SAMPLE_RATE)
    ours = semantic_tokens(samples, 22_050, quantizer, hubert), np.asarray(codec.encode(at24))
    return (plain.semantic(at16).numpy(), plain.codes(at24).numpy()), ours


@pytest.mark.parametrize("seconds", [1.2, 5.0, 17.3, 33.9])
def test_identical_tokens_up_to_the_hubert_window(pipelines, seconds):
    (plain_semantic, plain_codes), (semantic, codes) = sides(pipelines, seconds, seed=int(seconds))
    assert (semantic == plain_semantic).all()
    assert (codes == plain_codes).all()


def test_across_window_boundaries_same_frames_and_high_agreement(pipelines):
    (plain_semantic, plain_codes), (semantic, codes) = sides(pipelines, 75.0, seed=5)
    assert semantic.shape == plain_semantic.shape and codes.shape == plain_codes.shape
    assert (semantic == plain_semantic).mean() >= WINDOW_AGREEMENT
    assert (codes == plain_codes).mean() >= WINDOW_AGREEMENT


def test_fast_mode_gives_the_same_frames_and_mostly_the_same_tokens(tiny, pretend_bfloat16):
    quantizer, hubert, _ = load_models(str(tiny / "quantizer-v1.pth"), str(tiny / "hubert"), device="cpu",
                                       with_codec=False, fast=True)
    exact_q, exact_h, _ = load_models(str(tiny / "quantizer-v1.pth"), str(tiny / "hubert"), device="cpu",
                                      with_codec=False)
    assert quantizer is not exact_q and quantizer.fast and hubert.fast
    samples = speech_like(8.0, 16_000, seed=3)
    fast, exact = semantic_tokens(samples, 16_000, quantizer, hubert), semantic_tokens(samples, 16_000, exact_q,
                                                                                        exact_h)
    assert fast.shape == exact.shape and (fast == exact).mean() > 0.5


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import hubert_quant, hubert_quant.cli, sys; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
