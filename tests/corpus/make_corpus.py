"""Writes the crafted bad files of tests/corpus/ (standard library only, deterministic).

Run from the repository root:  python3 tests/corpus/make_corpus.py

Every file written here must be rejected with an error (never a panic, never a huge
allocation) by nabla's readers; tests/untrusted_files.rs replays them in `cargo test`.
The name of a file says what is wrong with it; README.md lists them all.

- idx/*          : read by nabla::data::read_idx            (each must be Err)
- mnist/<case>/  : a directory read by nabla::data::Mnist::load(dir, false)   (each must be Err)
- safetensors/*  : read by nabla::nn::StateDict::load        (each must be Err)
- seeds/*        : VALID files, the starting points of the fuzzers (must load fine)
"""

import gzip
import io
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))


def write(rel, data):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0 so that the bytes do not depend on when the script ran
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def idx(dims, body, type_code=0x08):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(body)


# ---- IDX ---------------------------------------------------------------------------------

IDX = {
    "empty.idx": b"",
    "two_bytes.idx": b"\x00\x00",
    "bad_magic_nonzero_prefix.idx": b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00",
    "png_signature.idx": b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,
    "float_element_type.idx": idx([2], b"\x00" * 8, type_code=0x0D),
    "int32_element_type.idx": idx([2], b"\x00" * 8, type_code=0x0C),
    "zero_dimensions.idx": b"\x00\x00\x08\x00",
    "header_cut_in_dims.idx": b"\x00\x00\x08\x03" + struct.pack(">I", 10) + b"\x00\x00",
    "max_ndim_header_cut.idx": b"\x00\x00\x08\xff" + b"\x00\x00\x00\x01" * 10,
    "body_truncated.idx": idx([10, 28, 28], b"\x07" * 100),
    "body_one_byte_short.idx": idx([3, 4], b"\x01" * 11),
    "trailing_bytes.idx": idx([3], b"\x01\x02\x03\x04"),
    # 10^6 x 10^6 = 10^12 elements claimed by a 32-byte file: must not allocate
    "claims_10e12_elements.idx": idx([1_000_000, 1_000_000], b"\x00" * 16),
    "claims_u32max_elements.idx": idx([0xFFFFFFFF], b"\x00" * 16),
    # the product of the dimensions overflows 64 bits
    "dims_overflow_u64.idx": idx([0xFFFFFFFF] * 4, b""),
    "dims_overflow_u64_255.idx": idx([0xFFFFFFFF] * 255, b""),
    # gzip: recognised by its magic bytes
    "gzip_claims_10e12_elements.idx.gz": gz(idx([1_000_000, 1_000_000], b"\x00" * 64)),
    "gzip_claims_4e9_elements_tiny_file.idx.gz": gz(idx([0xFFFFFFFF], b"")),
    "gzip_body_truncated.idx.gz": gz(idx([100, 28, 28], b"\x01" * 1000)),
    "gzip_trailing_bytes.idx.gz": gz(idx([4], b"\x01" * 40)),
    "gzip_bad_magic_inside.idx.gz": gz(b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00"),
    "gzip_empty_stream.idx.gz": gz(b""),
    "gzip_magic_only.idx.gz": b"\x1f\x8b",
    "gzip_garbage_after_magic.idx.gz": b"\x1f\x8b" + bytes(range(64)),
}

valid = idx([3, 4], range(12))
valid_gz = gz(idx([20, 5], [i % 251 for i in range(100)]))
IDX["gzip_stream_cut.idx.gz"] = valid_gz[: len(valid_gz) // 2]
flipped = bytearray(valid_gz)
flipped[-6] ^= 0x40  # inside the CRC32 trailer
IDX["gzip_crc_mismatch.idx.gz"] = bytes(flipped)
flipped = bytearray(valid_gz)
flipped[-2] ^= 0x01  # inside the ISIZE trailer
IDX["gzip_length_mismatch.idx.gz"] = bytes(flipped)
IDX["gzip_then_garbage.idx.gz"] = valid_gz + b"garbage"
IDX["two_gzip_members.idx.gz"] = valid_gz + valid_gz

for name, data in IDX.items():
    write(f"idx/{name}", data)

# ---- MNIST directories: valid IDX files that are not a valid MNIST pair ------------------

LABELS3 = idx([3], [7, 2, 1])
IMAGES3 = idx([3, 2, 2], range(12))
MNIST = {
    "zero_rows": (idx([3, 0, 28], b""), LABELS3),
    "zero_cols": (idx([3, 28, 0], b""), LABELS3),
    "images_are_labels": (LABELS3, LABELS3),
    "labels_are_images": (IMAGES3, IMAGES3),
    "images_have_4_dims": (idx([3, 1, 2, 2], range(12)), LABELS3),
    "count_mismatch": (IMAGES3, idx([2], [7, 2])),
    "labels_truncated": (IMAGES3, idx([3], [7, 2, 1])[:-1]),
    "images_claim_10e12": (idx([1_000_000, 1_000, 1_000], b"\x00" * 32), LABELS3),
}
for case, (images, labels) in MNIST.items():
    write(f"mnist/{case}/t10k-images-idx3-ubyte", images)
    write(f"mnist/{case}/t10k-labels-idx1-ubyte", labels)
# only one of the two files
write("mnist/labels_missing/t10k-images-idx3-ubyte.gz", gz(IMAGES3))

# ---- safetensors -------------------------------------------------------------------------
# 8 bytes little-endian header length N, N bytes of JSON header, then the data.


def st_raw(header_bytes, data=b"", n=None):
    n = len(header_bytes) if n is None else n
    return struct.pack("<Q", n) + header_bytes + data


def st(header, data=b""):
    return st_raw(json.dumps(header, separators=(",", ":")).encode(), data)


def t(dtype, shape, start, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, end]}


F32x4 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
GOOD = {"__metadata__": {"format": "pt"}, "weight": t("F32", [2, 2], 0, 16)}

ST = {
    "empty.safetensors": b"",
    "four_bytes.safetensors": b"\x10\x00\x00\x00",
    "header_len_u64_max.safetensors": st_raw(b"{}", n=0xFFFFFFFFFFFFFFFF),
    "header_len_past_end.safetensors": st_raw(b'{"a":1}', n=1000),
    "header_len_1e12.safetensors": st_raw(b"{}", n=10**12),
    "header_len_zero.safetensors": st_raw(b"", n=0) + F32x4,
    "header_not_json.safetensors": st_raw(b"this is not json at all", F32x4),
    "header_not_utf8.safetensors": st_raw(b'{"\xff\xfe":1}', F32x4),
    "header_is_array.safetensors": st_raw(b"[1,2,3]", F32x4),
    "header_truncated_json.safetensors": st_raw(b'{"weight":{"dtype":"F32","shape":[2,2],"data_off'),
    "unknown_dtype.safetensors": st({"w": t("F99", [4], 0, 16)}, F32x4),
    "unsupported_dtype_u64.safetensors": st({"w": t("U64", [2], 0, 16)}, F32x4),
    "unsupported_dtype_f8.safetensors": st({"w": t("F8_E4M3", [16], 0, 16)}, F32x4),
    "offsets_past_end.safetensors": st({"w": t("F32", [4], 0, 1600)}, F32x4),
    "offsets_reversed.safetensors": st({"w": t("F32", [0], 16, 0)}, F32x4),
    "offsets_not_covering_data.safetensors": st({"w": t("F32", [2], 0, 8)}, F32x4),
    "offsets_gap.safetensors": st({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, F32x4[:12]),
    "offsets_overlap.safetensors": st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, F32x4[:12]),
    "offsets_u64_max.safetensors": st({"w": t("F32", [4], 0xFFFFFFFFFFFFFFF0, 0xFFFFFFFFFFFFFFFF)}, F32x4),
    "shape_mismatch_offsets.safetensors": st({"w": t("F32", [3], 0, 16)}, F32x4),
    # 10^6 x 10^6 f32 = 4 TB claimed; only 16 bytes present: must not allocate
    "shape_claims_10e12.safetensors": st({"w": t("F32", [1_000_000, 1_000_000], 0, 16)}, F32x4),
    "shape_claims_10e12_matching_offsets.safetensors": st({"w": t("F32", [1_000_000, 1_000_000], 0, 4 * 10**12)}, F32x4),
    "shape_product_overflows.safetensors": st({"w": t("F32", [2**32, 2**32, 2**32], 0, 16)}, F32x4),
    "shape_negative.safetensors": st_raw(b'{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}', F32x4),
    "shape_float.safetensors": st_raw(b'{"w":{"dtype":"F32","shape":[4.5],"data_offsets":[0,16]}}', F32x4),
    "shape_missing.safetensors": st_raw(b'{"w":{"dtype":"F32","data_offsets":[0,16]}}', F32x4),
    "data_offsets_three.safetensors": st_raw(b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8,16]}}', F32x4),
    "data_truncated.safetensors": st(GOOD, F32x4[:10]),
    "bool_byte_2.safetensors": st({"m": t("BOOL", [4], 0, 4)}, b"\x00\x01\x02\x01"),
    "metadata_not_strings.safetensors": st({"__metadata__": {"format": 7}, "w": t("F32", [4], 0, 16)}, F32x4),
    "duplicate_key.safetensors": st_raw(
        b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}',
        F32x4,
    ),
    "tensor_entry_is_string.safetensors": st_raw(b'{"w":"F32"}', F32x4),
    "deeply_nested_json.safetensors": st_raw(b'{"w":' + b"[" * 5000 + b"]" * 5000 + b"}"),
}
for name, data in ST.items():
    write(f"safetensors/{name}", data)

# ---- valid seeds for the fuzzers ---------------------------------------------------------
# seeds/safetensors/zero_size_last_dim.safetensors is not written here: it is the input the
# libFuzzer target found on 2026-11-22 (a valid file whose [3, 0] tensor was reported
# non-contiguous), kept byte for byte as a regression seed.

write("seeds/idx/small.idx", valid)
write("seeds/idx/labels.idx", idx([10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]))
write("seeds/idx/small.idx.gz", valid_gz)
write("seeds/safetensors/f32_2x2.safetensors", st(GOOD, F32x4))
write(
    "seeds/safetensors/mixed.safetensors",
    st(
        {
            "__metadata__": {"format": "pt"},
            "a.weight": t("F64", [2], 0, 16),
            "a.bias": t("I64", [1], 16, 24),
            "mask": t("BOOL", [3], 24, 27),
            "half": t("F16", [2], 27, 31),
            "bhalf": t("BF16", [1], 31, 33),
            "bytes": t("U8", [3], 33, 36),
            "scalar": t("F32", [], 36, 40),
            "empty": t("F32", [0, 3], 40, 40),
        },
        struct.pack("<2d", 0.5, -1.5)
        + struct.pack("<q", 7)
        + b"\x01\x00\x01"
        + struct.pack("<2H", 0x3C00, 0xC000)
        + struct.pack("<H", 0x3F80)
        + b"\x01\x02\xff"
        + struct.pack("<f", 3.25),
    ),
)
