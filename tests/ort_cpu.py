"""Whether ONNX Runtime's CPU int8 kernels compute exactly on this machine.

On x86 CPUs without VNNI (AVX2 only, or AVX-512 without VNNI) ORT's u8s8 kernels multiply with
vpmaddubsw, which adds each pair of u8 x s8 products in int16 and saturates: with 8-bit weights
(|w| up to 127) and uint8 activations a pair can reach 2 * 255 * 127 = 64770 > 32767, and ORT's
result then differs from what the ONNX operators define (and from its own unoptimized run). ORT's
quantizer offers reduce_range (7-bit weights) for these machines; cquant's is `ptq --reduce-range`
(`qat --weight-bits 7`), whose pairs stay within 2 * 255 * 63 = 32130. Tests that compare cquant
with ORT's optimized int8 run write such files here, and full 8-bit files elsewhere.
"""
import platform


def ort_int8_exact():
    if platform.machine() not in ("x86_64", "AMD64", "i686", "i386"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return True
    return any(v in flags for v in ("avx512_vnni", "avx_vnni", "amx_int8"))


EXACT = ort_int8_exact()
REDUCE = [] if EXACT else ["--reduce-range"]  # ptq
QAT_W8 = "8" if EXACT else "7"  # qat --weight-bits for the files compared with ORT
NOTE = "" if EXACT else " (7-bit weights: ORT's int8 kernels saturate on this CPU, no VNNI)"
