"""Data contracts shared by every modality: manifests and token tables."""

from ctc.data.manifest import Record, read_manifest, write_manifest
from ctc.data.tokens import CharTokenizer

__all__ = ["CharTokenizer", "Record", "read_manifest", "write_manifest"]
