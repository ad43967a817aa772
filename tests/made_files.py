"""Files the tests make: PNG images (Python here has no image library: zlib and the PNG chunk
layout), a small image classifier to calibrate on them, and a token model; and what they read back
from a written QDQ file (weight_clip_ratios)."""
import struct
import zlib


def png_bytes(px, bits=8):
    """px: H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA), uint8, or uint16 for bits=16."""
    h, w = px.shape[:2]
    ct = 0 if px.ndim == 2 or px.shape[2] == 1 else {3: 2, 4: 6}[px.shape[2]]
    dt = ">u2" if bits == 16 else "u1"
    raw = b"".join(b"\x00" + px[y].astype(dt).tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, ct, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def image_classifier(path, rng):
    """Conv 3->4 (3x3, pad 1) -> Relu -> GlobalAveragePool -> Flatten -> Gemm 4->3 for N x 3 x 16 x 16
    input, opset 13, written to path (weights drawn from rng: conv, then fc)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    wc = (rng.standard_normal((4, 3, 3, 3)) * 0.3).astype(np.float32)
    wf = rng.standard_normal((3, 4)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "wc"], ["c"], pads=[1, 1, 1, 1], name="conv"), helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("GlobalAveragePool", ["r"], ["gp"]), helper.make_node("Flatten", ["gp"], ["f"]),
         helper.make_node("Gemm", ["f", "wf"], ["logits"], transB=1, name="fc")],
        "img", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(wc, "wc"), numpy_helper.from_array(wf, "wf")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def token_model(path, rng):
    """Gather of int64 ids [N, 6] from a 50 x 8 embedding -> MatMul 8->5 ("head"), opset 13, written
    to path (weights drawn from rng: embedding, then head); returns (path, the embedding)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    emb = rng.standard_normal((50, 8)).astype(np.float32)
    wo = rng.standard_normal((8, 5)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gather", ["emb", "ids"], ["e"]), helper.make_node("MatMul", ["e", "wo"], ["logits"], name="head")],
        "tok", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 6])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 6, 5])],
        [numpy_helper.from_array(emb, "emb"), numpy_helper.from_array(wo, "wo")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path, emb


def weight_clip_ratios(float_path, qdq_path, bits):
    """r_c = s_c Q / max|w_c| (Q = 2^(bits-1) - 1) of every Conv/Gemm weight channel, s_c the scale of
    the DequantizeLinear feeding the layer in the written file and w_c the float model's weights (a
    model without BatchNorm, in the same node order); None when a layer has no such scale."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    fm, qm = onnx.load(str(float_path)), onnx.load(str(qdq_path))
    f = {i.name: numpy_helper.to_array(i) for i in fm.graph.initializer}
    inits = {i.name: numpy_helper.to_array(i) for i in qm.graph.initializer}
    dq = {n.output[0]: n for n in qm.graph.node if n.op_type == "DequantizeLinear"}
    fl = [n.input[1] for n in fm.graph.node if n.op_type in ("Conv", "Gemm")]
    ql = [n.input[1] for n in qm.graph.node if n.op_type in ("Conv", "Gemm")]
    if len(fl) != len(ql):
        return None
    r = []
    for name, wq in zip(fl, ql):
        scale = inits.get(dq[wq].input[1]) if wq in dq else None
        if scale is None:
            return None
        amax = np.abs(f[name]).reshape(f[name].shape[0], -1).max(axis=1)
        r.append(scale.astype(np.float64) * (2 ** (bits - 1) - 1) / amax)
    return np.concatenate(r)
