"""What a Python float literal becomes in a narrower float type, without torch."""
from __future__ import annotations

import math
import struct

DTYPE_NAMES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
# The smallest positive normal number of each precision: eps below it loses precision,
# and below half the smallest subnormal it rounds to 0.
SMALLEST_NORMAL = {"fp16": 6.103515625e-05, "bf16": 1.1754943508222875e-38, "fp32": 1.1754943508222875e-38}
LARGEST = {"fp16": 65504.0, "bf16": 3.3895313892515355e38, "fp32": 3.4028234663852886e38}


def round_to(value: float, precision: str) -> float:
    """`value` stored in fp16 / bf16 / fp32 (round to nearest even; inf on overflow)."""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return value
    if precision == "fp16":
        try:
            return struct.unpack("<e", struct.pack("<e", value))[0]
        except (OverflowError, struct.error):
            return math.copysign(math.inf, value)
    try:
        bits = struct.unpack("<I", struct.pack("<f", value))[0]
    except (OverflowError, struct.error):
        return math.copysign(math.inf, value)
    if precision == "bf16":
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        bits &= 0xFFFFFFFF
    return struct.unpack("<f", struct.pack("<I", bits))[0]
