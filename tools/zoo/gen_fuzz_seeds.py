#!/usr/bin/python3
"""Small real exporter models for the structure-aware mutation fuzz (tests/test_onnx_mutate.c and
scripts/fuzz): tiny torch modules (random weights, fixed seed) exported with torch.onnx.export
(Debian's python3-torch 1.13, python3-torchvision 0.14) at opsets 11, 13 and 17, plus a Scan model
written with onnx.helper (torch never emits Scan). Each is a few KB, so the files are committed under
tests/data/mutate/; this script regenerates them:

  /usr/bin/python3 tools/zoo/gen_fuzz_seeds.py [OUT, default tests/data/mutate]

What each brings to the fuzz: control (If, Loop, sequences via a scripted list), lstm (LSTM),
gru (GRU with a dynamic sequence length), unet (Conv, MaxPool ceil_mode, ConvTranspose, Resize
nearest and bilinear), det (TopK, NonMaxSuppression, RoiAlign, Gather), attn (MatMul, Softmax,
LayerNorm, Gelu/Erf, Where with a bool mask), misc (Einsum, CumSum, Range, Expand, ScatterND, Pad,
Split), scan (Scan with a state and a scanned output), qdq (QuantizeLinear/DequantizeLinear around
Conv, Add, MaxPool and MatMul: the integer rewrite).
"""
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torchvision
from onnx import TensorProto, helper

warnings.filterwarnings("ignore")
torch.manual_seed(0)


class Control(torch.nn.Module):
    def forward(self, x, n: int):
        acc = torch.zeros_like(x)
        parts = []
        for i in range(n):
            acc = acc + x * float(i + 1)
            parts.append(acc)
        if bool(x.sum() > 0):
            y = torch.cat(parts, 0) if len(parts) > 0 else x
        else:
            y = torch.relu(x) - 1.0
        return y, acc


class Lstm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = torch.nn.LSTM(3, 4, num_layers=1, batch_first=True, bidirectional=True)

    def forward(self, x):
        y, (h, c) = self.m(x)
        return y, h


class Gru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.m = torch.nn.GRU(3, 4, num_layers=2)

    def forward(self, x):
        return self.m(x)[0]


class Unet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2, ceil_mode=True)
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.up = torch.nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.bn = torch.nn.BatchNorm2d(4)
        self.out = torch.nn.Conv2d(8, 2, 1)

    def forward(self, x):
        a = torch.relu(self.c1(x))
        b = torch.relu(self.bn(self.c2(self.pool(a))))
        u = self.up(b)[:, :, : a.shape[2], : a.shape[3]]
        n = torch.nn.functional.interpolate(b, size=(a.shape[2], a.shape[3]), mode="nearest")
        l = torch.nn.functional.interpolate(b, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(torch.cat([u, n], 1))), l


class Det(torch.nn.Module):
    def forward(self, feat, boxes, scores):
        k = min(6, boxes.shape[0])
        s, idx = torch.topk(scores, k)
        b = boxes[idx]
        keep = torchvision.ops.nms(b, s, 0.5)
        rois = torch.cat([torch.zeros_like(b[:, :1]), b], 1)
        pooled = torchvision.ops.roi_align(feat, rois, (2, 2), spatial_scale=0.5, sampling_ratio=2, aligned=True)
        return b[keep], pooled.mean((2, 3))


class Attn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(8, 8)
        self.k = torch.nn.Linear(8, 8)
        self.v = torch.nn.Linear(8, 8)
        self.ln = torch.nn.LayerNorm(8)
        self.emb = torch.nn.Embedding(11, 8)

    def forward(self, ids, mask):
        x = self.emb(ids)
        q, k, v = self.q(x), self.k(x), self.v(x)
        a = q @ k.transpose(1, 2) / 2.0
        a = torch.where(mask.unsqueeze(1), a, torch.full_like(a, -1e4))
        y = torch.softmax(a, -1) @ v
        return torch.nn.functional.gelu(self.ln(y + x))


class Misc(torch.nn.Module):
    def forward(self, x, y):
        e = torch.einsum("bij,bjk->bik", x, y)
        c = torch.cumsum(e, 1)
        r = torch.arange(0, x.shape[1], dtype=torch.float32)
        z = c + r.unsqueeze(0).unsqueeze(2).expand(x.shape[0], x.shape[1], 1)
        z = torch.nn.functional.pad(z, (1, 1, 0, 1), mode="reflect")
        z[:, 0] = 0.5
        a, b = torch.split(z, [1, z.shape[2] - 1], 2)
        return a * b.max(2, keepdim=True)[0], torch.argmax(b, -1)


def feeds():
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g)
    return {
        "control": ((r(2, 3), 3), ["x", "n"], ["y", "acc"], {"x": {0: "b"}}),
        "lstm": ((r(1, 5, 3),), ["x"], ["y", "h"], {"x": {0: "b", 1: "t"}}),
        "gru": ((r(5, 1, 3),), ["x"], ["y"], {"x": {0: "t", 1: "b"}}),
        "unet": ((r(1, 2, 7, 7),), ["x"], ["y", "up"], {"x": {0: "b"}}),
        "det": ((r(1, 2, 8, 8), torch.tensor([[0, 0, 4, 4], [1, 1, 5, 5], [0, 0, 4.5, 4], [8, 8, 14, 15],
                                                [2, 3, 9, 9], [9, 0, 15, 6], [3, 3, 4, 4], [0, 9, 6, 15.]]), torch.rand(8, generator=g)),
                ["feat", "boxes", "scores"], ["kept", "pooled"], {"feat": {2: "h", 3: "w"}}),
        "attn": ((torch.tensor([[1, 2, 3, 10]]), torch.tensor([[True, True, False, True]])), ["ids", "mask"], ["y"],
                 {"ids": {0: "b", 1: "s"}, "mask": {0: "b", 1: "s"}}),
        "misc": ((r(1, 4, 3), r(1, 3, 5)), ["x", "y"], ["z", "am"], {"x": {0: "b"}, "y": {0: "b"}}),
    }


def scan_model(opset):
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Mul", ["s_out", "x_t"], ["y_t"])],
        "body",
        [helper.make_tensor_value_info("s_in", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("x_t", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("s_out", TensorProto.FLOAT, [2]), helper.make_tensor_value_info("y_t", TensorProto.FLOAT, [2])])
    node = helper.make_node("Scan", ["s0", "xs"], ["s_final", "ys"], num_scan_inputs=1, body=body)
    g = helper.make_graph([node, helper.make_node("ReduceSum", ["ys"], ["total"], keepdims=0)], "scan",
                          [helper.make_tensor_value_info("s0", TensorProto.FLOAT, [2]),
                           helper.make_tensor_value_info("xs", TensorProto.FLOAT, ["t", 2])],
                          [helper.make_tensor_value_info("s_final", TensorProto.FLOAT, [2]),
                           helper.make_tensor_value_info("total", TensorProto.FLOAT, [])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_fuzz_seeds")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def qdq_model(opset):
    """QDQ around Conv (per-channel int8 weights, int32 bias), Add, MaxPool and MatMul: what
    cquant_onnx_integerize turns into integer operators."""
    rng = np.random.default_rng(3)
    T = lambda name, a: helper.make_tensor(name, {np.dtype("float32"): TensorProto.FLOAT, np.dtype("int8"): TensorProto.INT8,
                                                  np.dtype("uint8"): TensorProto.UINT8, np.dtype("int32"): TensorProto.INT32}[a.dtype],
                                           a.shape, a.tobytes(), raw=True)
    inits = [T("s_x", np.array(0.05, np.float32)), T("z_x", np.array(128, np.uint8)),
             T("w_q", rng.integers(-100, 100, (4, 2, 3, 3)).astype(np.int8)), T("w_s", np.full(4, 0.01, np.float32)),
             T("w_z", np.zeros(4, np.int8)), T("b_q", rng.integers(-50, 50, 4).astype(np.int32)), T("b_s", np.full(4, 0.0005, np.float32)),
             T("b_z", np.zeros(4, np.int32)), T("s_y", np.array(0.1, np.float32)), T("z_y", np.array(128, np.uint8)),
             T("m_q", rng.integers(-100, 100, (4, 3)).astype(np.int8)), T("m_s", np.array(0.02, np.float32)), T("m_z", np.array(0, np.int8)),
             helper.make_tensor("shape", TensorProto.INT64, [3], [1, -1, 4])]
    N = helper.make_node
    nodes = [N("QuantizeLinear", ["x", "s_x", "z_x"], ["xq"]), N("DequantizeLinear", ["xq", "s_x", "z_x"], ["xd"]),
             N("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0), N("DequantizeLinear", ["b_q", "b_s", "b_z"], ["b"], axis=0),
             N("Conv", ["xd", "w", "b"], ["c"], pads=[1, 1, 1, 1]), N("QuantizeLinear", ["c", "s_y", "z_y"], ["cq"]),
             N("DequantizeLinear", ["cq", "s_y", "z_y"], ["cd"]), N("Relu", ["cd"], ["r"]),
             N("QuantizeLinear", ["r", "s_y", "z_y"], ["rq"]), N("DequantizeLinear", ["rq", "s_y", "z_y"], ["rd"]),
             N("Add", ["rd", "cd"], ["a"]), N("QuantizeLinear", ["a", "s_y", "z_y"], ["aq"]), N("DequantizeLinear", ["aq", "s_y", "z_y"], ["ad"]),
             N("MaxPool", ["ad"], ["p"], kernel_shape=[2, 2], strides=[2, 2]), N("QuantizeLinear", ["p", "s_y", "z_y"], ["pq"]),
             N("DequantizeLinear", ["pq", "s_y", "z_y"], ["pd"]), N("Transpose", ["pd"], ["pt"], perm=[0, 2, 3, 1]),
             N("Reshape", ["pt", "shape"], ["pr"]), N("DequantizeLinear", ["m_q", "m_s", "m_z"], ["m"]), N("MatMul", ["pr", "m"], ["y"])]
    g = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 2, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 9, 3])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_fuzz_seeds")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data", "mutate")
    os.makedirs(out, exist_ok=True)
    mods = {"control": lambda: torch.jit.script(Control()), "lstm": Lstm, "gru": Gru, "unet": Unet, "det": Det, "attn": Attn,
            "misc": Misc}
    for name, (args, ins, outs, dyn) in feeds().items():
        for opset in ((12, 13, 17) if name == "misc" else (11, 13, 17)):  # Einsum: opset 12+
            m = mods[name]().eval()
            path = os.path.join(out, f"{name}_op{opset}.onnx")
            with torch.no_grad():
                torch.onnx.export(m, args, path, opset_version=opset, input_names=ins, output_names=outs, dynamic_axes=dyn)
            print(path, os.path.getsize(path))
    for opset in (11, 17):
        path = os.path.join(out, f"scan_op{opset}.onnx")
        onnx.save(scan_model(opset), path)
        print(path, os.path.getsize(path))
    for opset in (13, 19):
        path = os.path.join(out, f"qdq_op{opset}.onnx")
        onnx.save(qdq_model(opset), path)
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
