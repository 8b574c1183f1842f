"""Online side of the service: settings, embedding, stored index, retrieval, answers, API, CLI."""

import os

# oneDNN (torch's CPU kernels) keeps up to 1,024 compiled primitives, one per matrix shape. A
# build embeds batches of ever new shapes, and that cache grew the process by ~400 MB in a cold
# build of 60 letters (peak 1.86 GB; 1.47 GB with 8 kept, in the same time); questions embed as
# fast with 8. Read when torch makes its first primitive, so set here, before any model runs; a
# value in the environment wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")

__version__ = "0.1.0"
