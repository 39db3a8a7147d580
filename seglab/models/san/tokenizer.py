"""CLIP's byte-pair-encoding tokenizer: text -> (N, 77) token ids, as OpenAI's CLIP and MMSegmentation
tokenise prompts (start token 49406, the BPE pieces, end token 49407, zero padding).

The merge list ``bpe_simple_vocab_16e6.txt.gz`` is OpenAI's (MIT licence) and ships as package data. The
text clean-up is small on purpose: unescape HTML twice, collapse white space, lower-case (CLIP's ``ftfy``
mojibake repair is left out; class-name prompts need none of it).
"""

from __future__ import annotations

import gzip
import html
import re
from functools import lru_cache
from pathlib import Path

import torch

VOCAB_FILE = Path(__file__).with_name("bpe_simple_vocab_16e6.txt.gz")
NUM_MERGES = 49152 - 256 - 2  # the merges CLIP's vocabulary uses
SOT, EOT = "<start_of_text>", "<end_of_text>"
# CLIP's pattern with Python's ``re``: contractions, letter runs, single digits, other non-space runs
PATTERN = re.compile(
    r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+", re.IGNORECASE
)


def byte_alphabet() -> dict[int, str]:
    """Every byte -> a printable character: printable bytes map to themselves, the others to 256, 257, ...
    in byte order. The dict's order (printable ones first) is the vocabulary's order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


class SimpleTokenizer:
    """The BPE vocabulary: bytes, bytes ending a word (``</w>``), then every merge, then the two specials."""

    def __init__(self, vocab_file: str | Path = VOCAB_FILE) -> None:
        lines = gzip.open(vocab_file).read().decode("utf-8").split("\n")[1 : NUM_MERGES + 1]
        merges = [tuple(line.split()) for line in lines]
        self.byte_encoder = byte_alphabet()
        chars = list(self.byte_encoder.values())
        vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {piece: i for i, piece in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.cache: dict[str, str] = {SOT: SOT, EOT: EOT}

    def bpe(self, token: str) -> list[str]:
        """Merge the word's symbols pairwise, lowest-ranked pair first, until no known pair is left."""
        if token in self.cache:
            return self.cache[token].split(" ")
        word = [*token[:-1], token[-1] + "</w>"]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[token] = " ".join(word)
        return word

    def encode(self, text: str) -> list[int]:
        text = re.sub(r"\s+", " ", html.unescape(html.unescape(text)).strip()).strip().lower()
        ids = []
        for token in PATTERN.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[piece] for piece in self.bpe(token))
        return ids


@lru_cache(maxsize=1)
def default_tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def tokenize(texts: str | list[str], context_length: int = 77) -> torch.Tensor:
    """(N, context_length) long ids; a text too long is cut and still ends with the end token."""
    tok = default_tokenizer()
    texts = [texts] if isinstance(texts, str) else list(texts)
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [tok.encoder[SOT], *tok.encode(text), tok.encoder[EOT]]
        if len(ids) > context_length:
            ids = ids[:context_length]
            ids[-1] = tok.encoder[EOT]
        out[i, : len(ids)] = torch.tensor(ids)
    return out
