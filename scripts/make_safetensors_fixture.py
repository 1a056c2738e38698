#!/usr/bin/env python3
"""Writes Tests/Fixtures/safetensors/reference.safetensors with the reference implementation
(pip install safetensors numpy; version printed into the JSON), and reference.json: each tensor's
dtype, shape and values as bit patterns (hex), so the Swift reader is checked against files that
another tool wrote, without that tool at test time.

    python3 scripts/make_safetensors_fixture.py
"""
import json
from pathlib import Path

import numpy as np
import safetensors
from safetensors.numpy import save

OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "safetensors"


def main() -> None:
    nan_payload = np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64)[0]
    tensors = {
        "weight.f64": np.array([[1.0, -0.0, 5e-324], [np.inf, -np.inf, nan_payload],
                                [1.7976931348623157e308, -2.2250738585072014e-308, 0.1]], dtype=np.float64),
        "bias.f32": np.array([1.5, -3.25e-45, 3.4028235e38, 0.1], dtype=np.float32),
        "steps.i64": np.array([0, -1, 2**63 - 1, -(2**63)], dtype=np.int64),
        "tokens.i32": np.array([[7, -8], [2**31 - 1, -(2**31)]], dtype=np.int32),
        "bytes.u8": np.array([0, 255, 17], dtype=np.uint8),
        "mask.bool": np.array([True, False, True], dtype=np.bool_),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.float64),
        "name with \"quotes\" / é": np.array([42.0], dtype=np.float64),
    }
    metadata = {"format": "pt", "note": "line\nbreak, \"quote\", é"}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reference.safetensors").write_bytes(save(tensors, metadata=metadata))
    expected = {}
    for name, a in tensors.items():
        bits = {8: np.uint64, 4: np.uint32, 1: np.uint8}[a.dtype.itemsize]
        expected[name] = {
            "dtype": {"float64": "F64", "float32": "F32", "int64": "I64", "int32": "I32", "uint8": "U8",
                      "bool": "BOOL"}[str(a.dtype)],
            "shape": list(a.shape),
            "bits": [format(int(v), "x") for v in a.reshape(-1).view(bits)],
        }
    (OUT / "reference.json").write_text(json.dumps(
        {"safetensors": safetensors.__version__, "numpy": np.__version__, "metadata": metadata,
         "tensors": expected}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
