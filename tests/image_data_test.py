#!/usr/bin/python3
"""Image-folder and token data sources (issue 11, calibration data).

Writes PNG files by hand (zlib) and JPEG files with libjpeg-turbo (tests/image_tool.c: Python has no
encoder here), reads them through cquant_data_open_ex (image_tool dump writes each batch as .npy) and
compares with a NumPy reference of the preprocessing of docs/formats.md (eq. F1-F5): bilinear resize
(half-pixel centres), shorter side or fixed size, center crop (Python's round, as torchvision), RGB/BGR/
gray, per-channel mean/std, NCHW/NHWC. Then bad input (corrupt and non-image files, mixed sizes, a
token file of the wrong dtype) and cquant ptq/eval end to end on image folders.
usage: image_data_test.py IMAGE_TOOL CQUANT"""
import os, struct, subprocess, sys, tempfile, zlib
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from made_files import image_classifier, png_bytes, token_model  # noqa: E402

TOOL, CQ = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def write_png(path, px, bits=8):
    with open(path, "wb") as f:
        f.write(png_bytes(px, bits))


def write_jpeg(path, px, q=100):
    raw = path + ".raw"
    px.astype(np.uint8).tofile(raw)
    c = 1 if px.ndim == 2 else px.shape[2]
    subprocess.run([TOOL, "jpeg", path, raw, str(px.shape[0]), str(px.shape[1]), str(c), str(q)], check=True)
    os.remove(raw)


def dump(spec, out, *opts):
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([TOOL, "dump", spec, out, *opts], capture_output=True, text=True)
    xs, ys, k = [], [], 0
    while r.returncode == 0 and os.path.exists(f"{out}/x{k}.npy"):
        xs.append(np.load(f"{out}/x{k}.npy"))
        if os.path.exists(f"{out}/y{k}.npy"):
            ys.append(np.load(f"{out}/y{k}.npy"))
        k += 1
    return r, xs, ys


def resize_ref(img, rh, rw):
    """Bilinear, half-pixel centres, edge taps clamped (eq. F1): img H x W x 3 float64."""
    h, w = img.shape[:2]

    def taps(n, m):
        s = np.maximum((np.arange(m) + 0.5) * (n / m) - 0.5, 0.0)
        i0 = np.minimum(np.floor(s).astype(int), n - 1)
        i1 = np.minimum(i0 + 1, n - 1)
        wt = np.where(i1 == i0, 0.0, s - i0)
        return i0, i1, wt
    y0, y1, wy = taps(h, rh)
    x0, x1, wx = taps(w, rw)
    wx = wx[None, :, None]
    top = (1 - wx) * img[y0][:, x0] + wx * img[y0][:, x1]
    bot = (1 - wx) * img[y1][:, x0] + wx * img[y1][:, x1]
    return (1 - wy[:, None, None]) * top + wy[:, None, None] * bot


def preprocess_ref(px, resize=None, crop=None, order="rgb", mean=(0, 0, 0), std=(1, 1, 1), layout="nchw"):
    img = px.astype(np.float64)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    h, w = img.shape[:2]
    rh, rw = h, w
    if isinstance(resize, int):  # eq. F2, as torchvision's Resize(int)
        if w <= h:
            rw, rh = resize, resize * h // w
        else:
            rh, rw = resize, resize * w // h
    elif resize:
        rh, rw = resize
    img = resize_ref(img, rh, rw) if (rh, rw) != (h, w) else img
    if crop:  # eq. F3, as torchvision's CenterCrop
        ch, cw = crop
        top, left = int(round((rh - ch) / 2.0)), int(round((rw - cw) / 2.0))
        img = img[top:top + ch, left:left + cw]
    if order == "bgr":
        img = img[:, :, ::-1]
    elif order == "gray":  # eq. F4
        img = (0.299 * img[:, :, 0] + 0.587 * img[:, :, 1] + 0.114 * img[:, :, 2])[:, :, None]
    c = img.shape[2]
    x = (img / 255.0 - np.array(mean[:c])) / np.array(std[:c])  # eq. F5
    x = x.astype(np.float32)
    return x if layout == "nhwc" else x.transpose(2, 0, 1)


rng = np.random.default_rng(11)
tmp = tempfile.mkdtemp(prefix="cquant_img_")


def smooth(h, w, c=3):  # smooth gradients plus noise: JPEG keeps them close at quality 100
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 / max(w - 1, 1)), (yy * 255 / max(h - 1, 1)), ((xx + yy) * 127 / max(h + w - 2, 1))], axis=2)
    px = np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
    return px if c == 3 else px[:, :, 0]


# ---- decoding: PNG colour types and JPEG, read at their own size -------------------------------
d0 = f"{tmp}/decode"
os.makedirs(d0)
src = {}
src["a_rgb.png"] = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
src["b_gray.png"] = rng.integers(0, 256, (9, 13), dtype=np.uint8)
src["c_rgba.png"] = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
p16 = rng.integers(0, 65536, (9, 13, 3), dtype=np.uint16)
for n, px in src.items():
    write_png(f"{d0}/{n}", px)
write_png(f"{d0}/d_rgb16.PNG", p16, bits=16)
src["d_rgb16.PNG"] = np.floor(p16.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)  # png_set_scale_16
# a palette PNG with transparency (PLTE + tRNS; 4-bit indices): expanded to RGB, alpha dropped
pal = rng.integers(0, 256, (16, 3), dtype=np.uint8)
idx = rng.integers(0, 16, (9, 13), dtype=np.uint8)
packed = [np.concatenate([(r[0::2] << 4) | np.append(r[1::2], 0)[:len(r[0::2])]]) for r in idx]


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


with open(f"{d0}/g_pal.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 13, 9, 4, 3, 0, 0, 0)) + chunk(b"PLTE", pal.tobytes()) +
            chunk(b"tRNS", bytes(range(0, 160, 10))) + chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r.astype(np.uint8).tobytes() for r in packed))) +
            chunk(b"IEND", b""))
src["g_pal.png"] = pal[idx]
jp = smooth(9, 13)
write_jpeg(f"{d0}/e_rgb.jpg", jp)
jg = smooth(9, 13, 1)
write_jpeg(f"{d0}/f_gray.jpeg", jg)
with open(f"{d0}/notes.txt", "w") as f:
    f.write("not an image: ignored by name\n")
r, xs, ys = dump(d0, f"{tmp}/o0", "batch=4")
check("decode: a folder of 5 PNG + 2 JPEG images (notes.txt ignored) reads as batches 4 + 3",
      r.returncode == 0 and [x.shape for x in xs] == [(4, 3, 9, 13), (3, 3, 9, 13)] and not ys, r.stdout + r.stderr)
if r.returncode == 0 and len(xs) == 2:
    got = np.concatenate(xs)
    names = sorted(os.listdir(d0))
    names.remove("notes.txt")
    names.sort()
    names = names[:4] + names[6:] + names[4:6]  # the PNGs first: a..d, g; then the JPEGs e, f
    got = np.concatenate([got[:4], got[6:], got[4:6]])
    for i, n in enumerate(names[:5]):
        px = src[n][:, :, :3] if src[n].ndim == 3 else src[n]
        ref = preprocess_ref(px)
        check(f"decode: {n} equals its pixels / 255", np.array_equal(got[i], ref), f"max diff {np.abs(got[i] - ref).max()}")
    pix = np.rint(got[5:] * 255)
    e = np.abs(pix[0].transpose(1, 2, 0) - jp)
    check("decode: e_rgb.jpg (quality 100, 4:4:4) within 4 of the encoded pixels, mean error under 1",
          e.max() <= 4 and e.mean() < 1, f"max {e.max()} mean {e.mean():.3f}")
    check("decode: f_gray.jpeg is gray (R = G = B) within 3 of the encoded pixels",
          np.array_equal(pix[1][0], pix[1][1]) and np.abs(pix[1][0] - jg).max() <= 3, f"max {np.abs(pix[1][0] - jg).max()}")
    jdec = pix[0].transpose(1, 2, 0).astype(np.uint8)  # what libjpeg-turbo decoded: the references below start there

# ---- preprocessing against NumPy: mixed sizes, several options -----------------------------------
d1 = f"{tmp}/mixed"
os.makedirs(d1)
imgs = []
for k, (h, w) in enumerate([(24, 31), (40, 22), (17, 17), (50, 64), (23, 19)]):
    px = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    write_png(f"{d1}/img{k}.png", px)
    imgs.append(px)
# the JPEG of the decode folder joins, with its decoded pixels as the reference's input
os.link(f"{d0}/e_rgb.jpg", f"{d1}/img5.jpg")
imgs.append(jdec)
mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
cases = [
    (("resize=20", "crop=16", "mean=0.485,0.456,0.406", "std=0.229,0.224,0.225", "batch=4"),
     dict(resize=20, crop=(16, 16), mean=mean, std=std)),
    (("resize=12x10", "channel-order=bgr", "layout=nhwc", "mean=0.5", "std=0.25"),
     dict(resize=(12, 10), order="bgr", layout="nhwc", mean=(0.5,) * 3, std=(0.25,) * 3)),
    (("resize=18", "crop=15x9", "channel-order=gray", "batch=2"), dict(resize=18, crop=(15, 9), order="gray")),
    (("crop=8x11",), dict(crop=(8, 11))),
    (("resize=40x33", "crop=31"), dict(resize=(40, 33), crop=(31, 31))),  # upsampling, odd margins
]
for opts, kw in cases:
    r, xs, ys = dump(d1, f"{tmp}/o1_{len(opts)}_{opts[0]}", *opts)
    ok = r.returncode == 0 and len(xs) > 0
    if ok:
        got = np.concatenate(xs)
        ref = np.stack([preprocess_ref(p, **kw) for p in imgs])
        ok = got.shape == ref.shape and np.abs(got - ref).max() <= 2e-6 * max(1, np.abs(ref).max())
        detail = f"shape {got.shape} vs {ref.shape}" + (f", max diff {np.abs(got - ref).max():.3g}" if got.shape == ref.shape else "")
    else:
        detail = r.stdout + r.stderr
    check(f"preprocess {' '.join(opts)}: 6 mixed-size images equal the NumPy reference", ok, detail)

# ---- ImageFolder labels ------------------------------------------------------------------------
d2 = f"{tmp}/classes"
for c, cls in enumerate(["cat", "dog", "emu"]):
    os.makedirs(f"{d2}/{cls}")
    for k in range(c + 2):
        write_png(f"{d2}/{cls}/{k}.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
r, xs, ys = dump(d2, f"{tmp}/o2", "batch=4")
check("class subfolders: labels are the subfolders' indices in name order",
      r.returncode == 0 and np.array_equal(np.concatenate(ys), [0, 0, 1, 1, 1, 2, 2, 2, 2]) and "size 9" in r.stdout, r.stdout + r.stderr)

# ---- streaming: peak memory does not grow with the number of images --------------------------------


def peak_kib(*cmd):
    """Peak RSS of one run of cmd, from a fresh Python whose only child it is."""
    code = "import resource,subprocess,sys; r=subprocess.run(sys.argv[1:], capture_output=True); " \
           "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:  # under AddressSanitizer: no quarantine, so freed memory is reused as in a plain build
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
    out = subprocess.run(["/usr/bin/python3", "-c", code, *cmd], capture_output=True, text=True, env=env).stdout.split()
    return int(out[0]), int(out[1])


ds = {}
for n in (16, 400):
    ds[n] = f"{tmp}/stream{n}"
    os.makedirs(ds[n])
    one = png_bytes(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    for k in range(n):
        with open(f"{ds[n]}/{k:04d}.png", "wb") as f:
            f.write(one)
    os.makedirs(ds[n] + "_out")
(rc16, m16), (rc400, m400) = [peak_kib(TOOL, "dump", ds[n], ds[n] + "_out", "batch=8", "resize=64", "crop=64") for n in (16, 400)]
check(f"streaming: 400 images ({400 * 96 * 128 * 3 / 1e6:.1f} MB of pixels, {400 * 3 * 64 * 64 * 4 / 1e6:.1f} MB of tensors) peak at "
      f"{m400} KiB RSS, 16 images at {m16} KiB (within 2 MiB)",
      rc16 == 0 and rc400 == 0 and m400 - m16 < 2048, f"rc {rc16} {rc400}")

# ---- bad input -----------------------------------------------------------------------------------


def bad(name, folder, files, opts, want):
    os.makedirs(folder)
    for n, data in files.items():
        with open(f"{folder}/{n}", "wb") as f:
            f.write(data)
    r, xs, ys = dump(folder, folder + "_out", *opts)
    line = r.stdout.strip()
    check(name, r.returncode == 1 and want in line and "\n" not in line, repr(r.stdout + r.stderr))


good = png_bytes(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
bad("bad: a truncated PNG is an error naming it", f"{tmp}/b1", {"a.png": good, "b.png": good[:60]}, [], "b.png: not a readable PNG image")
bad("bad: a text file named .jpg is an error naming it", f"{tmp}/b2", {"a.png": good, "b.jpg": b"hello, not a JPEG\n"}, [],
    "b.jpg: not a PNG or JPEG image")
with open(f"{d0}/e_rgb.jpg", "rb") as f:
    jb = f.read()
bad("bad: a truncated JPEG is an error naming it", f"{tmp}/b3", {"a.jpg": jb[:len(jb) // 2]}, [], "a.jpg: not a readable JPEG image")
big = png_bytes(rng.integers(0, 256, (10, 8, 3), dtype=np.uint8))
bad("bad: mixed sizes without resize are an error naming both sizes", f"{tmp}/b4", {"a.png": good, "b.png": big}, [],
    "b.png: the image is 10 x 8 but")
bad("bad: mixed sizes with a shorter-side resize and no crop are an error", f"{tmp}/b5",
    {"a.png": good, "b.png": png_bytes(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8))}, ["resize=8"], "images of mixed sizes need")
bad("bad: a crop larger than the image is an error", f"{tmp}/b6", {"a.png": good}, ["crop=9"], "smaller than the crop")
bad("bad: an empty folder says what it looked for", f"{tmp}/b7", {"x.txt": b"x"}, [], "no .npy files, no images")
bad("bad: --resize 0 is refused", f"{tmp}/b8", {"a.png": good}, ["resize=0"], "resize '0'")
bad("bad: --std with a zero is refused", f"{tmp}/b9", {"a.png": good}, ["std=1,0,1"], "std '1,0,1'")

# ---- token ids: any integer dtype, checked against the model's input type -------------------------
try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    have_onnx = True
except ImportError:
    have_onnx = False
    print("skip token and end-to-end checks: python3-onnx is missing")
if have_onnx:
    tok_model, emb = token_model(f"{tmp}/tok.onnx", rng)
    ids = rng.integers(0, 50, (40, 6))
    np.save(f"{tmp}/ids64.npy", ids.astype(np.int64))
    np.save(f"{tmp}/ids32.npy", ids.astype(np.int32))
    r, xs, _ = dump(f"{tmp}/ids64.npy", f"{tmp}/o3", "batch=16")
    check("tokens: an int64 .npy reads as int64 batches of 16, 16, 8, values kept",
          r.returncode == 0 and [x.dtype for x in xs] == [np.int64] * 3 and np.array_equal(np.concatenate(xs), ids), r.stdout)
    h16 = rng.standard_normal((10, 3)).astype(np.float16)
    np.save(f"{tmp}/h16.npy", h16)
    r, xs, _ = dump(f"{tmp}/h16.npy", f"{tmp}/o3h", "batch=4")
    check("npy: a float16 .npy reads as float32 batches of 4, 4, 2, values exact",
          r.returncode == 0 and [x.dtype for x in xs] == [np.float32] * 3 and np.array_equal(np.concatenate(xs), h16.astype(np.float32)), r.stdout)
    nan = np.ones((10, 3), np.float32)
    nan[7, 1] = np.nan
    np.save(f"{tmp}/nan.npy", nan)
    r, xs, _ = dump(f"{tmp}/nan.npy", f"{tmp}/o3n", "batch=4")
    check("bad: a NaN in the second batch of a .npy is named (element 22)", r.returncode == 1 and "element 22 is NaN" in r.stdout, r.stdout)
    with open(f"{tmp}/ids64.npy", "rb") as f:
        b = f.read()
    with open(f"{tmp}/trunc.npy", "wb") as f:
        f.write(b[:-8])
    r, xs, _ = dump(f"{tmp}/trunc.npy", f"{tmp}/o3t")
    check("bad: a truncated .npy is refused at open", r.returncode == 1 and "but the header promises" in r.stdout, r.stdout)
    np.save(f"{tmp}/f64.npy", np.zeros((4, 2)))
    r, xs, _ = dump(f"{tmp}/f64.npy", f"{tmp}/o3f")
    check("bad: a float64 .npy is one clear error", r.returncode == 1 and "f64.npy" in r.stdout and "\n" not in r.stdout.strip(), r.stdout)
    big = np.lib.format.open_memmap(f"{tmp}/big.npy", mode="w+", dtype=np.int64, shape=(80000, 64))
    big[:] = 1
    del big
    np.save(f"{tmp}/small.npy", np.ones((800, 64), np.int64))
    (rcs, ms), (rcb, mb) = [peak_kib(TOOL, "dump", f"{tmp}/{n}.npy", "-", "batch=100") for n in ("small", "big")]
    check(f"streaming: a 41 MB int64 .npy peaks at {mb} KiB RSS, a 0.4 MB one at {ms} KiB (within 2 MiB)",
          rcs == 0 and rcb == 0 and mb - ms < 2048, f"rc {rcs} {rcb}")
    os.remove(f"{tmp}/big.npy")
    r = subprocess.run([TOOL, "check", tok_model, f"{tmp}/ids64.npy"], capture_output=True, text=True)
    check("tokens: int64 ids fit the model's int64 input", r.returncode == 0, r.stdout)
    r = subprocess.run([TOOL, "check", tok_model, f"{tmp}/ids32.npy"], capture_output=True, text=True)
    check("bad: int32 ids for an int64 input are one clear error naming both types",
          r.returncode == 1 and "int32 data for the model's input 'ids', which takes int64" in r.stdout, r.stdout)
    out = f"{tmp}/tok_q.onnx"
    r = subprocess.run([CQ, "ptq", tok_model, "--calib", f"{tmp}/ids32.npy", "-o", out], capture_output=True, text=True)
    err = r.stderr.strip()
    check("bad: cquant ptq with int32 token ids: exit 1, one line, nothing written",
          r.returncode == 1 and "takes int64" in err and "\n" not in err and not os.path.exists(out), r.stdout + r.stderr)
    r = subprocess.run([CQ, "ptq", tok_model, "--calib", f"{tmp}/ids64.npy", "-o", out], capture_output=True, text=True)
    check("tokens: cquant ptq calibrates a Gather + MatMul model on int64 ids and writes it",
          r.returncode == 0 and os.path.exists(out) and "calibrated on 40 samples" in r.stdout, r.stdout + r.stderr)

    # ---- several inputs: NAME=SOURCE each, read in lockstep ---------------------------------------
    g = helper.make_graph(
        [helper.make_node("Gather", ["emb", "ids"], ["e"]), helper.make_node("Mul", ["e", "mask"], ["y"])],
        "two", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 6]),
                helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 6, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 8])], [numpy_helper.from_array(emb, "emb")])
    two = f"{tmp}/two.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), two)
    mask = rng.random((40, 6, 1)).astype(np.float32)
    np.save(f"{tmp}/mask.npy", mask)
    np.save(f"{tmp}/mask_short.npy", mask[:30])

    def multi(out, *specs):
        os.makedirs(out, exist_ok=True)
        r = subprocess.run([TOOL, "multi", two, out, *specs], capture_output=True, text=True)
        ys = [np.load(f"{out}/y{k}.npy") for k in range(len(os.listdir(out)))] if r.returncode == 0 else []
        return r, ys
    r, ys = multi(f"{tmp}/o4", f"mask={tmp}/mask.npy", f"ids={tmp}/ids64.npy")
    check("inputs: mask=... ids=... (any order) feed a two-input model in lockstep, batches of 7; outputs equal emb[ids] * mask",
          r.returncode == 0 and "6 batches of 2 inputs, size 40" in r.stdout and
          np.array_equal(np.concatenate(ys), emb[ids] * mask), r.stdout + r.stderr)
    r, _ = multi(f"{tmp}/o5", f"ids={tmp}/ids64.npy", f"mask={tmp}/mask_short.npy")
    check("bad: inputs of different lengths are one error naming both", r.returncode == 1 and "input 'mask' gives 2 samples at sample 28 where 'ids' gives 7" in r.stdout, r.stdout)
    r, _ = multi(f"{tmp}/o6", f"ids={tmp}/ids64.npy")
    check("bad: a model input without a source is named", r.returncode == 1 and "no source for the model's input 'mask'" in r.stdout, r.stdout)
    r, _ = multi(f"{tmp}/o7", f"ids={tmp}/ids64.npy", f"masc={tmp}/mask.npy")
    check("bad: a NAME that is no model input is named with the model's inputs",
          r.returncode == 1 and "no input named 'masc' (its inputs: 'ids', 'mask')" in r.stdout, r.stdout)
    r, _ = multi(f"{tmp}/o8", f"ids={tmp}/ids32.npy", f"mask={tmp}/mask.npy")
    check("bad: int32 ids among several inputs: the dtype error names the input", r.returncode == 1 and "takes int64" in r.stdout, r.stdout)
    r, _ = multi(f"{tmp}/o9", f"{tmp}/ids64.npy")
    check("bad: a source without NAME= among inputs", r.returncode == 1 and "give NAME=SOURCE for each input" in r.stdout, r.stdout)

    # ---- cquant ptq / eval on image folders ------------------------------------------------------
    img_model = image_classifier(f"{tmp}/img.onnx", rng)
    out = f"{tmp}/img_q.onnx"
    pre = ["--resize", "20", "--crop", "16", "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"]
    r = subprocess.run([CQ, "ptq", img_model, "--calib", d1, "-o", out, "--batch", "4", *pre], capture_output=True, text=True)
    check("cquant ptq --calib IMAGE_FOLDER --resize 20 --crop 16: calibrates on the 6 images and writes the model",
          r.returncode == 0 and "calibrated on 6 samples" in r.stdout and os.path.exists(out), r.stdout + r.stderr)
    d3 = f"{tmp}/eval_classes"
    for c in range(3):
        os.makedirs(f"{d3}/c{c}")
        for k in range(3):
            write_png(f"{d3}/c{c}/{k}.png", rng.integers(0, 256, (20 + k, 18, 3), dtype=np.uint8))
    r = subprocess.run([CQ, "eval", out, "--data", d3, *pre], capture_output=True, text=True)
    check("cquant eval --data CLASS_FOLDERS: top-1 over the 9 labelled images (float and integer)",
          r.returncode == 0 and r.stdout.count("of 9)") == 2, r.stdout + r.stderr)
    out2 = f"{tmp}/img_q2.onnx"
    r = subprocess.run([CQ, "ptq", img_model, "--calib", f"{tmp}/b1", "-o", out2, *pre], capture_output=True, text=True)
    err = r.stderr.strip()
    check("bad: cquant ptq on a folder with a corrupt PNG: exit 1, one line naming it, nothing written",
          r.returncode == 1 and "b.png: not a readable PNG image" in err and "\n" not in err and not os.path.exists(out2), r.stderr)
    r = subprocess.run([CQ, "ptq", img_model, "--calib", d1, "-o", out2], capture_output=True, text=True)
    err = r.stderr.strip()
    check("bad: cquant ptq on mixed sizes without --resize: exit 1, one line, nothing written",
          r.returncode == 1 and "images of mixed sizes need a resize" in err and "\n" not in err and not os.path.exists(out2), r.stderr)
    r = subprocess.run([CQ, "ptq", img_model, "--calib", d1, "-o", out2, "--resize", "20", "--crop", "12"], capture_output=True, text=True)
    err = r.stderr.strip()
    check("bad: images cropped to 12 for a 16 x 16 input: exit 1, the shapes named, nothing written",
          r.returncode == 1 and "does not fit the model's input 'x'" in err and not os.path.exists(out2), r.stderr)
    r = subprocess.run([CQ, "ptq", img_model, "--calib", d1, "-o", out2, "--layout", "nhcw"], capture_output=True, text=True)
    check("bad: --layout nhcw: exit 1, one line", r.returncode == 1 and "--layout 'nhcw': nchw or nhwc" in r.stderr, r.stderr)

# ---- a shipped model on its own test images, as PNG files ----------------------------------------
import gzip
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fm = "/usr/share/datasets/fashion-mnist"
if os.path.exists(f"{fm}/t10k-images-idx3-ubyte.gz") and os.path.exists(f"{root}/models/fmnist_cnn.onnx"):
    n = 1000
    with gzip.open(f"{fm}/t10k-images-idx3-ubyte.gz") as f:
        xt = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
    with gzip.open(f"{fm}/t10k-labels-idx1-ubyte.gz") as f:
        yt = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    d5, d6 = f"{tmp}/fm_classes", f"{tmp}/fm_flat"
    os.makedirs(d6)
    for k in range(n):
        os.makedirs(f"{d5}/{yt[k]}", exist_ok=True)
        b = png_bytes(xt[k])
        for path in (f"{d5}/{yt[k]}/{k:05d}.png", f"{d6}/{k:05d}.png"):
            with open(path, "wb") as f:
                f.write(b)
    model = f"{root}/models/fmnist_cnn.onnx"

    def top1(*args):
        r = subprocess.run([CQ, "eval", *args, "--exec", "float"], capture_output=True, text=True)
        import re
        m = re.search(r"top-1 ([0-9.]+)% \(([0-9]+) of ([0-9]+)\)", r.stdout)
        return (m.group(1), int(m.group(2)), int(m.group(3))) if m else (r.stdout + r.stderr, -1, -1)
    a = top1(model, "--data", f"fashion-mnist:test:{n}")
    b = top1(model, "--data", d5, "--channel-order", "gray")
    check(f"fmnist_cnn on its first {n} test images as gray PNG class folders: top-1 {b[0]}% = {a[0]}% from the IDX files",
          a[1] >= 0 and a == b, f"{a} vs {b}")
    qa, qb = f"{tmp}/fm_q_idx.onnx", f"{tmp}/fm_q_png.onnx"
    ra = subprocess.run([CQ, "ptq", model, "--calib", f"fashion-mnist:test:{n}", "-o", qa], capture_output=True, text=True)
    rb = subprocess.run([CQ, "ptq", model, "--calib", d6, "--channel-order", "gray", "-o", qb], capture_output=True, text=True)
    ta, tb = top1(qa, "--data", f"fashion-mnist:test:{n}"), top1(qb, "--data", f"fashion-mnist:test:{n}")
    check(f"fmnist_cnn cquant ptq calibrated on the PNG folder: fake-quant top-1 {tb[0]}% = {ta[0]}% calibrated on the IDX files",
          ra.returncode == 0 and rb.returncode == 0 and ta[1] >= 0 and ta == tb, ra.stderr + rb.stderr + f"{ta} vs {tb}")
    if ra.returncode == 0 and rb.returncode == 0 and have_onnx:
        ia = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(qa).graph.initializer}
        ib = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(qb).graph.initializer}
        worst = max((np.abs(ia[k] - ib[k]) / np.maximum(np.abs(ia[k]), 1e-30)).max() if ia[k].size else 0 for k in ia) if ia.keys() == ib.keys() else 1
        check(f"  ... and both files' initializers agree within 1e-6 relative (worst {worst:.1e}: F5 in double vs the IDX reader's float32)",
              worst <= 1e-6)
else:
    print("skip the fashion-mnist checks: dataset-fashion-mnist or models/ is missing")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
