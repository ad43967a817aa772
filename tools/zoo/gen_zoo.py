#!/usr/bin/python3
"""The zoo: real exporter output for cquant's float executor. Builds torchvision models and small
hand-written networks with random weights (fixed seed), exports them with torch.onnx.export (Debian's
python3-torch 1.13 and python3-torchvision 0.14) at the chosen opsets with a dynamic batch
dimension, writes the input .npy files beside each model and records everything in OUT/manifest.json:

  {"torch": "1.13...", "torchvision": "0.14...", "models": [
     {"name": "resnet18", "variant": "fp32"|"fp16", "opset": 13, "file": "resnet18_op13.onnx",
      "inputs": {"input": "resnet18_op13.input.npy"}, "category": "classification",
      "detection_outputs": [], "score_output": null, "status": "ok"|"export failed", "error": "...",
      "torch_outputs": {"logits": "resnet18_op13.torch.logits.npy"}}]}
(torch_outputs: PyTorch's own outputs on the same inputs, float32 variants only: a second reference.)

The float16 variant of a model keeps float32 inputs and outputs: torch 1.13 cannot trace most models
in half precision on the CPU (no Half kernels for conv/addmm there), so every float32 initializer of
the exported graph is stored as float16 and a Cast back to float32 is put in front of its users (the
form of a float16-weight checkpoint behind Cast). model.half() is tried first where --half-first is
given.

usage: gen_zoo.py [OUT] [--models NAME,NAME|GROUP|all] [--opsets 11,13,17] [--fp16]
                  [--size N] [--half-first] [--list] [--append] [--skip-existing]
GROUPs: classification, segmentation, detection, video, sequence (RNNs, transformers, LMs), unet,
default (a small subset: the default when --models is not given), test (the models of tests/zoo_test.py).
"""
import argparse
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np

NOTES = {
    # what torch 1.13's exporter cannot do, measured by this script (see the manifest's "error")
}


def _tv():
    import torchvision
    return torchvision


# ----------------------------------------------------------------------------------- model builders
def classification(name, size):
    def build():
        tv = _tv()
        kw = {"weights": None}
        if name == "inception_v3":
            kw.update(aux_logits=False, init_weights=True)
        if name == "googlenet":
            kw.update(aux_logits=False, init_weights=True)
        m = getattr(tv.models, name)(**kw)
        return m, {"input": np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)}
    return build


def segmentation(name, size):
    def build():
        import torch
        tv = _tv()
        kw = {"weights": None, "weights_backbone": None}
        if name != "lraspp_mobilenet_v3_large":
            kw["aux_loss"] = False
        inner = getattr(tv.models.segmentation, name)(**kw)

        class Seg(torch.nn.Module):  # the dict output {"out": ...} as one tensor
            def __init__(self):
                super().__init__()
                self.m = inner

            def forward(self, x):
                return self.m(x)["out"]
        return Seg(), {"input": np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32)}
    return build


DET_OUTPUTS = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": ["boxes", "labels", "scores"],
    "retinanet_resnet50_fpn": ["boxes", "labels", "scores"],
    "ssdlite320_mobilenet_v3_large": ["boxes", "labels", "scores"],
    "maskrcnn_resnet50_fpn": ["boxes", "labels", "scores", "masks"],
    "keypointrcnn_resnet50_fpn": ["boxes", "labels", "scores", "keypoints", "keypoints_scores"],
}


def detection(name, size):
    def build():
        import torch
        tv = _tv()
        kw = {"weights": None, "weights_backbone": None}
        if name != "ssdlite320_mobilenet_v3_large":
            kw.update(min_size=size, max_size=size)
        if "rcnn" in name:
            # random weights score every box low: keep some detections so that the box, mask and
            # keypoint heads (RoiAlign, ConvTranspose, Resize) run on real boxes
            kw.update(box_score_thresh=0.0, box_detections_per_img=20)
        inner = getattr(tv.models.detection, name)(**kw)
        keys = DET_OUTPUTS[name]

        class Det(torch.nn.Module):  # one image in, the first image's detections out as a tuple
            def __init__(self):
                super().__init__()
                self.m = inner

            def forward(self, x):
                d = self.m([x])[0]
                return tuple(d[k] for k in keys)
        rng = np.random.default_rng(1)
        return Det(), {"image": rng.uniform(0, 1, (3, size, size)).astype(np.float32)}
    return build


def video(size):
    def build():
        tv = _tv()
        return tv.models.video.r3d_18(weights=None), {
            "input": np.random.default_rng(1).standard_normal((1, 3, 4, size, size)).astype(np.float32)}
    return build


def rnn(kind):
    def build():
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
                self.rnn = cls(16, 32, num_layers=2, batch_first=True, bidirectional=True)
                self.head = torch.nn.Linear(64, 5)

            def forward(self, x):
                y, _ = self.rnn(x)
                return self.head(y)
        return Net(), {"input": np.random.default_rng(1).standard_normal((2, 7, 16)).astype(np.float32)}
    return build


def transformer(encoder_only):
    def build():
        import torch
        rng = np.random.default_rng(1)
        if encoder_only:
            layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
            m = torch.nn.TransformerEncoder(layer, 2)
            return m, {"src": rng.standard_normal((2, 6, 32)).astype(np.float32)}

        class T(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.t = torch.nn.Transformer(32, 4, 2, 2, 64, dropout=0.0, batch_first=True)

            def forward(self, src, tgt):
                return self.t(src, tgt)
        return T(), {"src": rng.standard_normal((2, 6, 32)).astype(np.float32),
                     "tgt": rng.standard_normal((2, 5, 32)).astype(np.float32)}
    return build


def gpt():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d, h, n_ctx):
            super().__init__()
            self.h = h
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
            self.register_buffer("tri", torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool)))

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q = q.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            k = k.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            v = v.reshape(b, t, self.h, d // self.h).transpose(1, 2)
            s = (q @ k.transpose(-2, -1)) * (1.0 / (d // self.h) ** 0.5)
            s = s.masked_fill(~self.tri[:t, :t], float("-inf"))
            a = F.softmax(s, dim=-1) @ v
            x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab=101, d=48, h=4, layers=2, n_ctx=32):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(n_ctx, d)
            self.blocks = nn.ModuleList(Block(d, h, n_ctx) for _ in range(layers))
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, ids):
            t = ids.shape[1]
            x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))[None]
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln(x))

    def build():
        return GPT(), {"ids": np.random.default_rng(1).integers(0, 101, (2, 9)).astype(np.int64)}
    return build


def bert():
    import torch
    import torch.nn as nn

    class Layer(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.h = h
            self.q, self.k, self.v, self.o = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
            self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x, mask):
            b, t, d = x.shape
            sh = lambda y: y.view(b, t, self.h, d // self.h).permute(0, 2, 1, 3)  # noqa: E731
            q, k, v = sh(self.q(x)), sh(self.k(x)), sh(self.v(x))
            s = torch.matmul(q, k.transpose(-1, -2)) / (d // self.h) ** 0.5
            s = s.masked_fill(~mask[:, None, None, :], -1e4)
            a = torch.matmul(s.softmax(-1), v).permute(0, 2, 1, 3).reshape(b, t, d)
            x = self.ln1(x + self.o(a))
            return self.ln2(x + self.fc2(torch.nn.functional.gelu(self.fc1(x))))

    class Bert(nn.Module):
        def __init__(self, vocab=211, d=64, h=4, layers=2, n_pos=64):
            super().__init__()
            self.tok, self.pos, self.typ = nn.Embedding(vocab, d), nn.Embedding(n_pos, d), nn.Embedding(2, d)
            self.ln = nn.LayerNorm(d, eps=1e-12)
            self.layers = nn.ModuleList(Layer(d, h) for _ in range(layers))
            self.pool = nn.Linear(d, d)

        def forward(self, input_ids, attention_mask):
            t = input_ids.shape[1]
            pos = torch.arange(t, dtype=torch.long).unsqueeze(0).expand_as(input_ids)
            x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
            for layer in self.layers:
                x = layer(x, attention_mask)
            return x, torch.tanh(self.pool(x[:, 0]))

    def build():
        rng = np.random.default_rng(1)
        ids = rng.integers(0, 211, (2, 11)).astype(np.int64)
        mask = np.ones((2, 11), bool)
        mask[1, 7:] = False  # the second sequence is padded
        return Bert(), {"input_ids": ids, "attention_mask": mask}
    return build


def unet():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def block(ci, co):
        return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co), nn.ReLU(inplace=True),
                             nn.Conv2d(co, co, 3, padding=1), nn.ReLU(inplace=True))

    class UNet(nn.Module):
        def __init__(self, c=(8, 16, 32, 64)):
            super().__init__()
            self.down = nn.ModuleList([block(3, c[0]), block(c[0], c[1]), block(c[1], c[2])])
            self.pool = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.mid = block(c[2], c[3])
            self.up3 = nn.ConvTranspose2d(c[3], c[2], 2, stride=2)
            self.dec3 = block(2 * c[2], c[2])
            self.up2 = nn.ConvTranspose2d(c[2], c[1], 3, stride=2, padding=1, output_padding=1)
            self.dec2 = block(2 * c[1], c[1])
            self.red1 = nn.Conv2d(c[1], c[0], 1)
            self.dec1 = block(2 * c[0], c[0])
            self.head = nn.Conv2d(c[0], 2, 1)

        def forward(self, x):
            s1 = self.down[0](x)
            s2 = self.down[1](self.pool(s1))
            s3 = self.down[2](self.pool(s2))
            y = self.mid(self.pool(s3))
            y = self.up3(y)  # ceil_mode pooling: the upsampled map can be one larger than the skip
            y = self.dec3(torch.cat([y[:, :, :s3.shape[2], :s3.shape[3]], s3], 1))
            y = self.up2(y)
            y = F.interpolate(y, size=s2.shape[2:], mode="bilinear", align_corners=False)
            y = self.dec2(torch.cat([y, s2], 1))
            y = F.interpolate(self.red1(y), size=s1.shape[2:], mode="nearest")
            return self.head(self.dec1(torch.cat([y, s1], 1)))

    def build():
        return UNet(), {"input": np.random.default_rng(1).standard_normal((1, 3, 60, 60)).astype(np.float32)}
    return build


CLASSIFICATION = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
                  "regnet_y_400mf", "shufflenet_v2_x1_0", "squeezenet1_1", "densenet121", "googlenet", "inception_v3",
                  "mnasnet1_0", "convnext_tiny", "vit_b_16", "swin_t"]
SEGMENTATION = ["deeplabv3_mobilenet_v3_large", "fcn_resnet50", "lraspp_mobilenet_v3_large"]
DETECTION = list(DET_OUTPUTS)
SEQUENCE = ["lstm", "gru", "rnn", "transformer", "transformer_encoder", "gpt", "bert"]
GROUPS = {
    "classification": CLASSIFICATION, "segmentation": SEGMENTATION, "detection": DETECTION, "video": ["r3d_18"],
    "sequence": SEQUENCE, "unet": ["unet"],
    "default": ["mobilenet_v3_small", "squeezenet1_1", "resnet18", "lstm", "gru", "transformer_encoder", "gpt", "bert", "unet",
                "lraspp_mobilenet_v3_large"],
    "test": ["mobilenet_v3_small", "squeezenet1_1", "lstm", "gpt", "bert", "unet"],
}
GROUPS["all"] = CLASSIFICATION + SEGMENTATION + DETECTION + ["r3d_18"] + SEQUENCE + ["unet"]


def spec(name, size):
    """(builder, category, dynamic axes of each input, detection output names, names of outputs)."""
    if name in CLASSIFICATION:
        s = 299 if name == "inception_v3" and size >= 224 else (max(size, 75) if name == "inception_v3" else size)
        if name in ("vit_b_16", "swin_t"):
            s = 224  # vit_b_16 has a fixed image size; swin_t's windows want multiples of 32*7
        return classification(name, s), "classification", None, [], ["logits"]
    if name in SEGMENTATION:
        return segmentation(name, size), "segmentation", None, [], ["out"]
    if name in DETECTION:
        return detection(name, 320), "detection", {}, DET_OUTPUTS[name], DET_OUTPUTS[name]
    if name == "r3d_18":
        return video(min(size, 112) if size < 224 else 112), "video", None, [], ["logits"]
    if name in ("lstm", "gru", "rnn"):
        return rnn(name), "sequence", {"input": {0: "batch", 1: "time"}}, [], ["output"]
    if name in ("transformer", "transformer_encoder"):
        return transformer(name == "transformer_encoder"), "sequence", None, [], ["output"]
    if name == "gpt":
        return gpt(), "sequence", {"ids": {0: "batch", 1: "time"}}, [], ["logits"]
    if name == "bert":
        return bert(), "sequence", {"input_ids": {0: "batch", 1: "time"}, "attention_mask": {0: "batch", 1: "time"}}, [], \
            ["last_hidden_state", "pooled"]
    if name == "unet":
        return unet(), "unet", None, [], ["mask"]
    raise KeyError(name)


def realistic(model, category, feeds):
    """Random weights as torchvision initializes them give degenerate activations (mobilenet logits
    near 1e-9, inception's near 1e12, ViT's zero-initialized head gives zeros): every BatchNorm gets
    the running statistics of one training-mode pass over two random inputs (not in detection models,
    whose boxes would then all degenerate), and a Linear layer initialized to zeros gets random weights. The outputs then
    have the scale of a trained network's."""
    import torch
    g = torch.Generator().manual_seed(2)
    for mod in model.modules():
        if isinstance(mod, torch.nn.Linear) and not bool(mod.weight.detach().abs().sum()):
            with torch.no_grad():
                mod.weight.normal_(0, mod.in_features ** -0.5, generator=g)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or category in ("sequence", "detection"):
        return  # detection: normalized backbone features make the box regressions degenerate (no boxes left)
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # a cumulative average: one pass sets the statistics of that pass
    x0 = torch.from_numpy(next(iter(feeds.values())))
    with torch.no_grad():
        x = torch.randn((2,) + tuple(x0.shape[1:]), generator=g)
        model.train()
        model(x)
        model.eval()
    for b in bns:
        b.momentum = 0.1


# ------------------------------------------------------------------------------------ float16 weights
def fp16_weights(src, dst):
    """Stores every float32 initializer with more than one element as float16 behind a Cast to
    float32 (inputs, outputs and arithmetic stay float32). Returns the number converted."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    m = onnx.load(src)
    g = m.graph
    casts, n = [], 0
    for init in g.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        a = numpy_helper.to_array(init)
        if a.size <= 1:
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(a.astype(np.float16), name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast"))
        n += 1
    # graph inputs that name an initializer (IR < 4 exports) would now be unfed: drop them
    names16 = {i.name for i in g.initializer}
    keep = [i for i in g.input if i.name not in {c.output[0] for c in casts} or i.name in names16]
    del g.input[:]
    g.input.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.save(m, dst)
    return n


# ------------------------------------------------------------------------------------------- export
def export(name, opset, out, size, variant, half_first, log):
    import torch
    builder, category, dyn, det, outs = spec(name, size)
    torch.manual_seed(0)
    np.random.seed(0)
    model, feeds = builder()
    realistic(model, category, feeds)
    model.eval()
    base = f"{name}_op{opset}" + ("_fp16" if variant == "fp16" else "")
    path = os.path.join(out, base + ".onnx")
    in_names = list(feeds)
    if dyn is None:
        dyn = {k: {0: "batch"} for k in in_names}
    dyn = dict(dyn)
    if category not in ("detection",):
        for o in outs:
            dyn.setdefault(o, {0: "batch"})
    entry = {"name": name, "variant": variant, "opset": opset, "file": base + ".onnx", "category": category,
             "detection_outputs": det, "score_output": "scores" if det else None, "inputs": {}}
    args = tuple(torch.from_numpy(feeds[k]) for k in in_names)
    how = "fp32"
    # no torch.no_grad() around the export: with gradients off, nn.MultiheadAttention and
    # nn.TransformerEncoderLayer take their fused fast path (aten::_native_multi_head_attention),
    # which torch 1.13 cannot export
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if variant == "fp16" and half_first:
            try:
                mh = model.half()
                ah = tuple(a.half() if a.is_floating_point() else a for a in args)
                mh(*ah)  # CPU half kernels exist for this model?
                torch.onnx.export(mh, ah, path, opset_version=opset, input_names=in_names, output_names=outs,
                                  dynamic_axes=dyn, do_constant_folding=True)
                how = "model.half()"
                feeds = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in feeds.items()}
            except Exception:  # noqa: BLE001 - fall back to float16 initializers behind Cast
                model = model.float()
                how = None
        if how != "model.half()":
            tmp = path + ".fp32.onnx" if variant == "fp16" else path
            torch.onnx.export(model, args, tmp, opset_version=opset, input_names=in_names, output_names=outs,
                              dynamic_axes=dyn, do_constant_folding=True)
            if variant == "fp16":
                k = fp16_weights(tmp, path)
                os.remove(tmp)
                how = f"{k} float16 initializers behind Cast"
    entry["fp16_form"] = how if variant == "fp16" else None
    entry["torch_outputs"] = {}
    if variant == "fp32":  # PyTorch's own outputs: a second reference where the runtimes disagree
        with torch.no_grad():
            y = model(*args)
        ys = y if isinstance(y, (tuple, list)) else (y,)
        for o, t in zip(outs, ys):
            f = f"{base}.torch.{o}.npy"
            np.save(os.path.join(out, f), t.numpy())
            entry["torch_outputs"][o] = f
    for k, v in feeds.items():
        f = f"{base}.{k}.npy"
        np.save(os.path.join(out, f), v)
        entry["inputs"][k] = f
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                                           "build", "zoo"))
    ap.add_argument("--models", default="default", help="comma-separated model names or groups (default: the group 'default')")
    ap.add_argument("--opsets", default="13", help="comma-separated opsets among 11,13,17 (default 13); 'all' = 11,13,17")
    ap.add_argument("--fp16", dest="fp16", action="store_true", default=False, help="also export each model with float16 weights")
    ap.add_argument("--half-first", action="store_true", help="for --fp16, try model.half() before float16 initializers")
    ap.add_argument("--size", type=int, default=224, help="image size of classification/segmentation inputs (default 224)")
    ap.add_argument("--list", action="store_true", help="list the models and groups and exit")
    ap.add_argument("--append", action="store_true", help="keep the entries of an existing manifest (others' models/opsets)")
    ap.add_argument("--skip-existing", action="store_true", help="with --append: do not export again what the manifest holds")
    a = ap.parse_args()
    if a.list:
        for g, ms in GROUPS.items():
            print(f"{g}: {' '.join(ms)}")
        return 0
    names = []
    for tok in a.models.split(","):
        tok = tok.strip()
        for n in GROUPS.get(tok, [tok]):
            if n not in GROUPS["all"]:
                sys.exit(f"gen_zoo: unknown model or group '{n}' (--list)")
            if n not in names:
                names.append(n)
    opsets = [11, 13, 17] if a.opsets == "all" else [int(x) for x in a.opsets.split(",")]
    import torch
    import torchvision
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    os.makedirs(a.out, exist_ok=True)
    mf = os.path.join(a.out, "manifest.json")
    entries = []
    if a.append and os.path.exists(mf):
        entries = json.load(open(mf))["models"]
    variants = ["fp32", "fp16"] if a.fp16 else ["fp32"]
    ok = bad = 0
    for name in names:
        for opset in opsets:
            for variant in variants:
                old = [x for x in entries if (x["name"], x["opset"], x["variant"]) == (name, opset, variant)]
                if a.skip_existing and old and old[0].get("status") == "ok" and "torch_outputs" in old[0] \
                        and os.path.exists(os.path.join(a.out, old[0]["file"])):
                    continue
                t0 = time.time()
                try:
                    e = export(name, opset, a.out, a.size, variant, a.half_first, None)
                    e["status"] = "ok"
                    ok += 1
                    msg = "ok"
                except Exception as ex:  # noqa: BLE001 - recorded in the manifest
                    lines = [l for l in str(ex).strip().splitlines() if l.strip()]
                    err = f"{type(ex).__name__}: {lines[0] if lines else ''}"[:300]
                    e = {"name": name, "variant": variant, "opset": opset, "status": "export failed", "error": err}
                    bad += 1
                    msg = "EXPORT FAILED: " + err
                    if os.environ.get("ZOO_DEBUG"):
                        traceback.print_exc()
                e["export_s"] = round(time.time() - t0, 1)
                entries = [x for x in entries if (x["name"], x["opset"], x["variant"]) != (name, opset, variant)] + [e]
                print(f"{name:38s} op{opset} {variant}: {msg} ({e['export_s']} s)", flush=True)
                with open(mf, "w") as f:  # after every model: an interrupted run still leaves a manifest
                    json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__, "models": entries}, f, indent=1)
    print(f"gen_zoo: {ok} exported, {bad} failed; manifest {mf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
