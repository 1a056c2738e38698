#!/usr/bin/env python3
"""Writes Tests/Fixtures/safetensors/reference.safetensors with Hugging Face's own safetensors
package (its NumPy API; no torch needed), so that UNLab's SafeTensors reader is tested on a file
the reference implementation wrote, and its writer against that file's bytes. Run once; the
file is committed.

    pip install safetensors numpy
    python3 scripts/make_safetensors_fixture.py
"""
import pathlib

import numpy as np
from safetensors.numpy import save_file

tensors = {
    "weight": np.arange(6, dtype=np.float64).reshape(2, 3) / 8 - 0.25,
    "bias": np.array([1.5, -2.0, 1e-300], dtype=np.float64),
    "scalar": np.array(np.pi, dtype=np.float64),
    "empty": np.zeros((0, 4), dtype=np.float64),
}
path = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "safetensors" / "reference.safetensors"
path.parent.mkdir(parents=True, exist_ok=True)
save_file(tensors, str(path), metadata={"format": "np", "note": "UNLab \"fixture\""})
print(f"wrote {path} ({path.stat().st_size} bytes)")
