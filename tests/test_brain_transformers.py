"""The transformers backend on a seeded tiny random Qwen2 (the real architecture) with a byte-level tokenizer.

Random weights say nothing about answers, which is the point for constrained decoding: whatever the logits want,
the reply must follow the schema.
"""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import HumanMessage

from sensorium.agents.brain.chat import GenerationOptions

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("llguidance")

TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if tools %}<|im_start|>system\n{{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny() -> tuple[object, object]:
    """A seeded tiny Qwen2 and a byte-level tokenizer (also used by the chat conformance suite)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for special in ("<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>")
    tok.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        eos_token_id=tok.eos_token_id,
    )
    model = transformers.Qwen2ForCausalLM(config).eval()
    return tok, model


@pytest.fixture(scope="module")
def tiny() -> tuple[object, object]:
    return build_tiny()


def make(tiny: tuple[object, object]):
    from sensorium.agents.brain.backends.transformers import TransformersChatModel

    tok, model = tiny
    return TransformersChatModel(model=model, tokenizer=tok, device="cpu", name="hf:tiny")


def test_structured_output_is_valid_json_of_the_schema(tiny) -> None:
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "mood": {"enum": ["happy", "sad"]}},
        "required": ["ok", "mood"],
    }
    tokens: list[str] = []
    result = make(tiny).chat(
        [HumanMessage("Report.")],
        response_format=schema,
        options=GenerationOptions(max_tokens=200),
        on_token=tokens.append,
    )
    data = json.loads(result.message.content)
    assert isinstance(data["ok"], bool) and data["mood"] in ("happy", "sad")
    assert "".join(tokens) == result.reply == result.message.content
    assert result.usage.completion_tokens > 0 and result.usage.ttft_s is not None
    assert "<|im_start|>assistant\n" in result.prompt["prompt"] and "%json" in result.prompt["grammar"]


def test_tool_calls_are_valid_by_construction(tiny) -> None:
    tool = {
        "name": "set_light",
        "description": "Switch a light.",
        "parameters": {
            "type": "object",
            "properties": {"room": {"enum": ["hall", "den"]}, "on": {"type": "boolean"}},
            "required": ["room", "on"],
        },
    }
    model = make(tiny)
    for seed in range(2):  # sampled: different paths through the grammar, every one valid
        opts = GenerationOptions(max_tokens=60, temperature=1.0, seed=seed)
        msg = model.chat([HumanMessage("Lights?")], tools=[tool], options=opts).message
        assert not msg.invalid_tool_calls or msg.response_metadata["finish_reason"] == "length"
        for call in msg.tool_calls:
            assert call["name"] == "set_light" and call["args"]["room"] in ("hall", "den")
        if not msg.tool_calls:
            assert msg.content.strip()[:1] not in ("{", "[", "<", "`")


def test_unconstrained_generation_runs_and_parses(tiny) -> None:
    opts = GenerationOptions(max_tokens=8, constrain_tools=False)
    result = make(tiny).chat([HumanMessage("hi")], tools=[], options=opts)
    assert result.usage.completion_tokens <= 8 and result.prompt.endswith("<|im_start|>assistant\n")
