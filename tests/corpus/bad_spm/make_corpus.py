#!/usr/bin/python3
"""Writes the hostile tokenizer.model corpus of tests/scripts/test_bad_spm.sh
from tests/data/spm/prmbench_bpe640.model: each file breaks one rule of the
protobuf wire format or of what a Llama SentencePiece BPE model must hold.
usage: tests/corpus/bad_spm/make_corpus.py   (from the repository root)"""
import struct

from sentencepiece import sentencepiece_model_pb2 as pb

OUT = "tests/corpus/bad_spm/"
good = open("tests/data/spm/prmbench_bpe640.model", "rb").read()


def varint(v):
    out = b""
    while True:
        c = v & 0x7F
        v >>= 7
        out += bytes([c | (0x80 if v else 0)])
        if not v:
            return out


def piece(text_bytes, score=b"", typ=b""):
    body = b"\x0a" + varint(len(text_bytes)) + text_bytes + score + typ
    return b"\x0a" + varint(len(body)) + body


def model():
    m = pb.ModelProto()
    m.ParseFromString(good)
    return m


def write(name, data):
    open(OUT + name, "wb").write(data)


write("truncated.model", good[:1000])
write("empty.model", b"")
write("huge_length.model", b"\x0a" + varint(1 << 40) + b"\x0a\x01a")
write("varint_11_bytes.model", varint(99 << 3) + b"\xff" * 10 + b"\x01" + good)  # unknown field 99
write("group.model", varint(7 << 3 | 3) + varint(7 << 3 | 4) + good)  # a (deprecated) group, field 7
write("json.model", b'{"model": {"type": "BPE", "vocab": {}, "merges": []}}')
write("nan_score.model", piece(b"<unk>", b"\x15" + struct.pack("<f", float("nan"))) + good)
write("bad_type.model", piece(b"<unk>", b"", b"\x18\x09") + good)
write("invalid_utf8_piece.model", piece(b"<unk>") + piece(b"\xc3\x28") + good)
write("empty_piece.model", piece(b"<unk>") + piece(b"") + good)
write("nul_in_piece.model", piece(b"<unk>") + piece(b"a\x00b") + good)
write("model_type_9.model", good + b"\x12\x02\x18\x09")
write("pieces_only_two.model", piece(b"<unk>") + piece(b"<s>") + b"\x12\x02\x18\x02")
m = model()
m.pieces[100].piece = m.pieces[101].piece
write("duplicate_piece.model", m.SerializeToString())
m = model()
m.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
write("unigram.model", m.SerializeToString())
# trainer_spec.pad_id (field 43) = 2^32: outside int32
write("pad_id_overflow.model", good + b"\x12\x07" + varint(43 << 3) + varint(1 << 32))
