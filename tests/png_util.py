"""A PNG encoder for the tests (Python here has no image library): zlib and the PNG chunk layout."""
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
