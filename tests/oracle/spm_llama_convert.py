#!/usr/bin/python3
"""Oracle for prmeval's tokenizer.model reader: converts a SentencePiece BPE
model into the tokenizer.json that transformers' LlamaTokenizerFast builds
from a folder without tokenizer.json (convert_slow_tokenizer.LlamaConverter and
SentencePieceExtractor of transformers 4.x, PreTrainedTokenizerFast.__init__'s
added tokens, LlamaTokenizerFast.update_post_processor), written from those
rules independently of prmeval's C code. The model is parsed by protobuf's own
Python library with sentencepiece's schema (Debian: python3-sentencepiece,
python3-protobuf). The result is encoded by the JavaScript port of tokenizers
(tests/js/encode_oracle.mjs) and compared with `prmeval tokenize` on the folder.

usage: spm_llama_convert.py MODEL_DIR OUT_DIR
  MODEL_DIR holds tokenizer.model and optionally tokenizer_config.json and
  special_tokens_map.json. OUT_DIR gets tokenizer.json and a
  tokenizer_config.json naming PreTrainedTokenizerFast, so the JS port uses
  the tokenizer.json exactly as written.
"""
import json
import os
import sys

from sentencepiece import sentencepiece_model_pb2 as pb


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def token_text(v):
    if isinstance(v, dict):
        return v["content"]
    return v


def main(model_dir, out_dir):
    proto = pb.ModelProto()
    with open(os.path.join(model_dir, "tokenizer.model"), "rb") as f:
        proto.ParseFromString(f.read())
    assert proto.trainer_spec.model_type == 2, "BPE only"

    # --- the configuration, as _from_pretrained reads it (transformers >= 4.34)
    cfg = read_json(os.path.join(model_dir, "tokenizer_config.json")) or {}
    smap = read_json(os.path.join(model_dir, "special_tokens_map.json"))
    special = {k: cfg[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token",
                                   "additional_special_tokens") if k in cfg}
    decoder = cfg.get("added_tokens_decoder")
    if decoder is None and smap is not None:
        for k, v in smap.items():
            if isinstance(v, dict):
                v = dict(v, special=True)
            special[k] = v
    defaults = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None}
    for k, v in defaults.items():
        special.setdefault(k, v)
    legacy = cfg.get("legacy")
    legacy = True if legacy is None else legacy            # LlamaTokenizer: None -> True
    add_prefix_space = cfg.get("add_prefix_space", True)   # LlamaTokenizer's default
    add_bos = cfg.get("add_bos_token", True)
    add_eos = cfg.get("add_eos_token", False)

    # --- LlamaConverter.vocab and SentencePieceExtractor.extract(vocab_scores)
    pieces = list(proto.pieces)
    vocab_scores = [(pieces[i].piece, 0.0) for i in range(3)]
    vocab_scores += [(p.piece, p.score) for p in pieces[3:]]
    sp_vocab = {p.piece: i for i, p in enumerate(pieces)}
    scores = dict(vocab_scores)
    merges = []
    for merge, piece_score in scores.items():
        local = []
        for index in range(1, len(merge)):
            left, right = merge[:index], merge[index:]
            if left in sp_vocab and right in sp_vocab:
                local.append((left, right, piece_score))
        local = sorted(local, key=lambda x: (sp_vocab[x[0]], sp_vocab[x[1]]))
        merges.extend(local)
    merges = sorted(merges, key=lambda val: val[2], reverse=True)
    merges = [[a, b] for a, b, _ in merges]
    bpe_vocab = {word: i for i, (word, _) in enumerate(vocab_scores)}

    # --- added tokens: SpmConverter.tokenizer, then PreTrainedTokenizerFast.__init__
    added = []          # tokenizer.json "added_tokens", in order of addition
    by_content = {}
    next_id = [len(bpe_vocab)]

    def add(content, special_, lstrip=False, rstrip=False, single_word=False, normalized=None):
        if content is None or content in by_content:
            return
        if normalized is None:
            normalized = not special_
        tid = bpe_vocab.get(content)
        if tid is None:
            tid = next_id[0]
            next_id[0] += 1
        tok = {"id": tid, "content": content, "single_word": single_word, "lstrip": lstrip,
               "rstrip": rstrip, "normalized": normalized, "special": special_}
        by_content[content] = tok
        added.append(tok)

    for p in pieces:
        if p.type in (3, 4):  # CONTROL (special), USER_DEFINED (not special)
            add(p.piece, p.type == 3, normalized=False)
    for idx, tok in sorted(((int(k), v) for k, v in (decoder or {}).items()), key=lambda x: x[0]):
        add(tok["content"], tok.get("special", False), tok.get("lstrip", False), tok.get("rstrip", False),
            tok.get("single_word", False), tok.get("normalized"))
    extra = special.get("additional_special_tokens") or []
    for key in ("bos_token", "eos_token", "unk_token", "pad_token"):
        v = special.get(key)
        if isinstance(v, dict):
            add(v["content"], True, v.get("lstrip", False), v.get("rstrip", False), v.get("single_word", False),
                v.get("normalized", not v.get("special", False)))
        else:
            add(v, True)
    for v in extra:
        if isinstance(v, dict):
            add(v["content"], True, v.get("lstrip", False), v.get("rstrip", False), v.get("single_word", False),
                v.get("normalized", not v.get("special", False)))
        else:
            add(v, True)

    # --- normalizer / pre-tokenizer (LlamaConverter.normalizer, .pre_tokenizer)
    if legacy:
        seq = []
        if add_prefix_space:
            seq.append({"type": "Prepend", "prepend": "\u2581"})
        seq.append({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})
        normalizer = {"type": "Sequence", "normalizers": seq}
        pre = None
    else:
        normalizer = None
        # add_prefix_space is the older field, still read by tokenizers; the
        # JavaScript port needs it to prepend at all.
        pre = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": bool(add_prefix_space),
               "prepend_scheme": "first" if add_prefix_space else "never", "split": False}

    # --- post-processor (LlamaTokenizerFast.update_post_processor)
    def tid(text):
        if text in by_content:
            return by_content[text]["id"]
        return bpe_vocab.get(text, bpe_vocab.get(proto.trainer_spec.unk_piece))

    bos, eos = token_text(special.get("bos_token")), token_text(special.get("eos_token"))
    single, specials = [], {}
    if add_bos:
        single.append({"SpecialToken": {"id": bos, "type_id": 0}})
        specials[bos] = {"id": bos, "ids": [tid(bos)], "tokens": [bos]}
    single.append({"Sequence": {"id": "A", "type_id": 0}})
    if add_eos:
        single.append({"SpecialToken": {"id": eos, "type_id": 0}})
        specials[eos] = {"id": eos, "ids": [tid(eos)], "tokens": [eos]}
    post = {"type": "TemplateProcessing", "single": single, "pair": single, "special_tokens": specials}

    tj = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added, "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": proto.trainer_spec.unk_piece,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                  "byte_fallback": True, "ignore_merges": False, "vocab": bpe_vocab, "merges": merges},
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, f)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
