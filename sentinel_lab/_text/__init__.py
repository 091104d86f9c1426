"""Text primitives below the analysis: Unicode folding, decoding of encodings, strict JSON reading."""
