"""Making quantizers for new languages: :mod:`.dataset` (pairs of Bark semantic tokens and audio,
and their HuBERT features), :mod:`.train` (the training loop), :mod:`.evaluate` (token accuracy)."""
