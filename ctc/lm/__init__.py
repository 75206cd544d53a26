"""Word n-gram language models: Kneser-Ney estimation, ARPA reading and writing."""

from ctc.lm.arpa import read_arpa, write_arpa
from ctc.lm.kneser_ney import NGramModel, estimate, read_sentences

__all__ = ["NGramModel", "estimate", "read_arpa", "read_sentences", "write_arpa"]
