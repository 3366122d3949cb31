"""An encoder's ``onnx/model.onnx`` made the way the Hugging Face Hub publishes it (optimum's export), for tests and
benchmarks of the code that reads such files. It stands for the Hub's file, not for routellm's own exporter."""

from __future__ import annotations

from pathlib import Path


def export_like_optimum(model_dir: Path, out: Path, attn: str = "eager") -> None:
    """Write ``out``: ``AutoModel``'s ``last_hidden_state`` for ``input_ids``, ``attention_mask`` and
    ``token_type_ids``, dynamic batch and length, opset 14 (needs torch and transformers)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation=attn).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tokenizer(["an example prompt", "a second, longer example prompt"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch_size", 1: "sequence_length"} for name in [*names, "last_hidden_state"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(Encoder(), tuple(sample[n] for n in names), str(out), input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=14, dynamo=False)
