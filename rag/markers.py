"""The citation marker «[n]»: one pattern for the answer, generation and the clients."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d+)\]")
