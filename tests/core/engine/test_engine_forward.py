"""The int8 engine against the float Hugging Face model it was converted from, and the
property the determinism contract rests on: a row's logits do not depend on its batch."""

import pytest
import torch

from billion_songs.core.engine.attention import KVCache
from billion_songs.core.engine.gpt2 import GPT2Config, GPT2Model
from billion_songs.core.engine.int8 import Int8Linear
from billion_songs.core.engine.llama import LlamaConfig, LlamaModel


def test_int8_linear_rows_are_exact_whatever_the_batch():
    torch.manual_seed(1)
    layer = Int8Linear.from_float(torch.randn(96, 64), torch.randn(96))
    x = torch.randn(33, 64)
    together = layer(x)
    for rows in (slice(0, 1), slice(5, 13), slice(1, 33)):
        assert torch.equal(layer(x[rows]), together[rows])
    assert torch.allclose(together, x @ layer.weight_t.float() * layer.scale + layer.bias, rtol=0.05, atol=0.3)


def _hf_llama():
    from transformers import LlamaConfig as HFConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(HFConfig(vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                     tie_word_embeddings=True)).eval()


def _hf_gpt2():
    from transformers import GPT2Config as HFConfig, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(HFConfig(vocab_size=320, n_positions=128, n_embd=64, n_layer=2, n_head=4)).eval()


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_engine_matches_the_float_model_and_is_batch_invariant(family):
    if family == "llama":
        hf = _hf_llama()
        config = LlamaConfig.from_hf(hf.config.to_dict())
        engine = LlamaModel(config, LlamaModel.convert(config, hf.state_dict()))
    else:
        hf = _hf_gpt2()
        config = GPT2Config.from_hf(hf.config.to_dict())
        engine = GPT2Model(config, GPT2Model.convert(config, hf.state_dict()))
    # Scale the random weights up so the logits have a spread worth comparing.
    torch.manual_seed(2)
    tokens = torch.randint(0, 320, (6, 12))
    with torch.no_grad():
        reference = hf(tokens).logits[:, -1]  # [B, V], float32
    with torch.inference_mode():
        cache = engine.new_cache(6, 20)
        logits = engine.forward(tokens, cache)
        step_token = torch.randint(0, 320, (6, 1))
        step_logits = engine.forward(step_token, cache)
        single = engine.new_cache(1, 20)
        assert torch.equal(engine.forward(tokens[3:4], single)[0], logits[3])  # prefill: bit-identical
        assert torch.equal(engine.forward(step_token[3:4], single)[0], step_logits[3])  # decode step too
    error = (logits - reference).abs().max() / reference.abs().max()
    assert error < 0.1, f"int8 engine drifted from the float model: relative error {error:.3f}"
    with torch.no_grad():
        ref_step = hf(torch.cat([tokens, step_token], dim=1)).logits[:, -1]
    assert (step_logits - ref_step).abs().max() / ref_step.abs().max() < 0.1


def test_cache_prefix_rows_start_from_the_shared_prefix():
    hf = _hf_gpt2()
    config = GPT2Config.from_hf(hf.config.to_dict())
    engine = GPT2Model(config, GPT2Model.convert(config, hf.state_dict()))
    prefix_tokens, own = torch.tensor([[5, 6, 7, 8]]), torch.tensor([[9, 10], [11, 12]])
    with torch.inference_mode():
        prefix = engine.new_cache(1, 4)
        engine.forward(prefix_tokens, prefix)
        shared = KVCache.from_prefix(prefix, 2, 10)
        logits = engine.forward(own, shared)
        alone = engine.new_cache(1, 10)
        engine.forward(prefix_tokens, alone)
        assert torch.equal(engine.forward(own[1:], alone)[0], logits[1])


def test_the_onednn_and_int_mm_paths_give_the_same_bits():
    """Machines where oneDNN is not exact fall back to torch._int_mm; their songs must not
    differ (this runs on AVX2-only and VNNI CPUs alike: 7-bit activations are exact on both)."""
    from billion_songs.core.engine.int8 import onednn_int8_available

    if not onednn_int8_available():
        pytest.skip("oneDNN's int8 matmul is not exact (or not built) here: only the _int_mm path exists")
    torch.manual_seed(5)
    layer = Int8Linear.from_float(torch.randn(300, 64) * 0.1, torch.randn(300))
    x = torch.randn(9, 64) * 4
    fast = layer(x)
    layer.packed = None
    assert torch.equal(layer(x), fast)


def test_the_single_row_kernel_gives_the_same_bits_as_the_batched_paths():
    """One song decoded alone goes through gemv.py's AVX2 kernel; the same row in a batch
    through oneDNN or torch._int_mm. The songs must not differ."""
    from billion_songs.core.engine import gemv

    if not gemv.available():
        pytest.skip("the AVX2 kernel is not available here (no AVX2 or no compiler)")
    torch.manual_seed(6)
    layer = Int8Linear.from_float(torch.randn(300, 64) * 0.1, torch.randn(300))
    assert layer.gemv_packed is not None
    x = torch.randn(5, 64) * 4
    batched = layer(x)
    for i in range(5):
        assert torch.equal(layer(x[i : i + 1]), batched[i : i + 1])
    layer.packed = None  # the torch._int_mm path
    assert torch.equal(layer(x), batched)
