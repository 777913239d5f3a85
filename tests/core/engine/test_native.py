"""The native decode step against the PyTorch reference (fixed_order.py): the same bits for
prefill and steps, KVCache and RowCache (rows at their own positions, waiting rows, copied
spans), alone or in any batch, at any thread count, built for AVX2 or AVX-512 VNNI, and a
clean fallback when the build fails."""

import json
import os
import subprocess
import sys
import threading

import pytest
import torch

from billion_songs.core.engine import fixed_order, kernels
from billion_songs.core.engine.attention import KVCache, RowCache
from billion_songs.core.engine.gpt2 import GPT2Config, GPT2Model
from billion_songs.core.engine.llama import LlamaConfig, LlamaModel

native = pytest.mark.skipif(kernels.native() is None, reason="no native engine here (no AVX2 or no compiler)")


def _tiny_llama(head_dim: int = 64) -> LlamaModel:
    from transformers import LlamaConfig as HFConfig, LlamaForCausalLM

    torch.manual_seed(0)
    hf = LlamaForCausalLM(HFConfig(vocab_size=320, hidden_size=192, intermediate_size=100, num_hidden_layers=2,
                                   num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=128,
                                   head_dim=head_dim))
    for p in hf.parameters():  # a spread of activations worth comparing
        p.data.mul_(3.0)
    config = LlamaConfig.from_hf(hf.config.to_dict())
    return LlamaModel(config, LlamaModel.convert(config, hf.state_dict()))


@pytest.fixture(scope="module")
def llama():
    return _tiny_llama()


def _both(model, run):
    """run(forward) with the native step and with the reference; both results."""
    return run(model.forward), run(model.forward_reference)


def _kv_run(model, tokens, steps, max_len=40):
    def run(forward):
        cache = KVCache(model.config.num_layers, tokens.shape[0], model.config.num_kv_heads, max_len,
                        model.config.head_dim)
        out = [forward(tokens, cache)]
        for s in range(steps):
            out.append(forward(((tokens[:, -1:] * 7 + s * 13) % 320), cache))
        return torch.stack(out), cache
    return run


@native
def test_native_and_reference_give_the_same_bits_prefill_and_steps(llama):
    assert llama.native is not None
    tokens = torch.randint(0, 320, (5, 9), generator=torch.Generator().manual_seed(1))
    (fast, fast_cache), (ref, ref_cache) = _both(llama, _kv_run(llama, tokens, steps=6))
    assert torch.equal(fast, ref)
    assert all(torch.equal(a, b) for a, b in zip(fast_cache.k + fast_cache.v, ref_cache.k + ref_cache.v))
    # The row alone, prompt fed one token a step instead of in one prefill: the same bits.
    cache = KVCache(2, 1, 1, 40, 64)
    for t in range(9):
        last = llama.forward(tokens[2:3, t : t + 1], cache)
    assert torch.equal(last[0], fast[0, 2])


@native
def test_a_prefill_split_into_groups_of_rows_gives_the_same_bits(llama, monkeypatch):
    from billion_songs.core.engine import native as native_step

    tokens = torch.randint(0, 320, (5, 9), generator=torch.Generator().manual_seed(6))
    whole, _ = _kv_run(llama, tokens, steps=2)(llama.forward)
    monkeypatch.setattr(native_step, "_MAX_QUERY_ROWS", 20)  # groups of 2 rows of 9 tokens
    grouped, _ = _kv_run(llama, tokens, steps=2)(llama.forward)
    assert torch.equal(whole, grouped)


def _row_run(model, rows, steps, copy_at=None):
    """Rows (start step, tokens) in one RowCache; each row's logits per real step."""
    def run(forward):
        c = model.config
        cache = RowCache(c.num_layers, len(rows), c.num_kv_heads, 48, c.head_dim)
        out = [[] for _ in rows]
        for step in range(steps):
            tokens = torch.zeros((len(rows), 1), dtype=torch.int64)
            for row, (start, seq) in enumerate(rows):
                index = step - start
                cache.stepping[row] = 0 <= index < len(seq)
                tokens[row, 0] = seq[index] if cache.stepping[row] else 3
            logits = forward(tokens, cache)
            for row in range(len(rows)):
                if cache.stepping[row]:
                    out[row].append(logits[row].clone())
            if copy_at == step:
                cache.copy_span(0, [1], 0, int(cache.row_positions[0]))
                cache.row_positions[1] = cache.row_positions[0]
        return out
    return run


@native
def test_rows_at_their_own_positions_native_reference_alone_and_mixed(llama):
    seq = [17, 200, 5, 88, 301, 42, 9, 150, 7, 66]
    rows = [(3, [11, 12, 13]), (2, seq), (0, [5] * 14), (5, seq[:4])]
    fast, ref = _both(llama, _row_run(llama, rows, len(seq) + 4))
    assert all(torch.equal(a, b) for f, r in zip(fast, ref) for a, b in zip(f, r))
    alone = _row_run(llama, [(0, seq)], len(seq))(llama.forward)[0]
    assert all(torch.equal(a, b) for a, b in zip(alone, fast[1]))
    # A copied span (a chosen line becomes a sibling's context) reads alike in both paths.
    fast, ref = _both(llama, _row_run(llama, [(0, seq), (0, [4] * 6)], 8, copy_at=3))
    assert all(torch.equal(a, b) for f, r in zip(fast, ref) for a, b in zip(f, r))


@native
def test_a_head_width_other_than_64_gives_the_same_bits():
    """d = 36: the step's general attention path (not dot64_halving), and float16 rows whose
    width is not a multiple of 8 (the conversions' scalar tails)."""
    model = _tiny_llama(head_dim=36)
    assert model.config.head_dim == 36 and model.native is not None
    tokens = torch.randint(0, 320, (3, 7), generator=torch.Generator().manual_seed(8))
    (fast, fast_cache), (ref, ref_cache) = _both(model, _kv_run(model, tokens, steps=4))
    assert torch.equal(fast, ref)
    assert all(torch.equal(a, b) for a, b in zip(fast_cache.k + fast_cache.v, ref_cache.k + ref_cache.v))
    seq = [17, 200, 5, 88, 301, 42]
    fast, ref = _both(model, _row_run(model, [(0, seq), (2, [9] * 5)], 8, copy_at=2))
    assert all(torch.equal(a, b) for f, r in zip(fast, ref) for a, b in zip(f, r))


@native
def test_the_cache_conversions_match_torch_bit_for_bit():
    """The step writes keys and values as float16 rounded to nearest, ties to even, and
    reads them widened: torch's .to(float16) and .float(). Every finite half, every
    midpoint between neighbouring halves (the ties), subnormals, overflow to infinity,
    and random float32 bit patterns."""
    module = kernels.native()
    halves = torch.arange(0, 0x7C00, dtype=torch.int32).to(torch.int16).view(torch.float16).float()  # +0 ... 65504
    mids = (halves[:-1] + halves[1:]) / 2  # exact in float32: the ties
    bits = torch.randint(-(2 ** 31), 2 ** 31, (200_001,), generator=torch.Generator().manual_seed(9),
                         dtype=torch.int64).to(torch.int32).view(torch.float32)
    special = torch.tensor([65504.0, 65519.996, 65520.0, 1e6, float("inf"), 2.0 ** -25, 2.0 ** -26, 1e-30, 3.0e-8])
    x = torch.cat([halves, mids, special, torch.randn(100_000) * 30, bits[~bits.isnan()]])
    x = torch.cat([x, -x])
    for part in (x, x[:13], x[5:12]):  # widths not a multiple of 8: the scalar tails
        assert torch.equal(module.to_half(part).view(torch.int16), part.to(torch.float16).view(torch.int16))
    every = torch.arange(-(2 ** 15), 2 ** 15, dtype=torch.int32).to(torch.int16).view(torch.float16)
    every = every[~every.isnan()]
    for part in (every, every[:13]):
        assert torch.equal(module.widen_half(part), part.float())
    assert torch.equal(module.widen_half(module.to_half(halves)), halves)  # halves round-trip exactly


@native
def test_thread_counts_do_not_change_a_bit(llama):
    """The engine's own pool at 1, 2 and 3 threads (and torch's count beside it)."""
    tokens = torch.randint(0, 320, (7, 5), generator=torch.Generator().manual_seed(3))
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            kernels.set_engine_threads(threads)
            torch.set_num_threads(4 - threads)
            results.append(_kv_run(llama, tokens, steps=3)(llama.forward)[0])
    finally:
        kernels.native().set_threads(0)  # back to torch's count
        torch.set_num_threads(before)
    assert all(torch.equal(results[0], r) for r in results[1:])


@native
def test_threads_of_any_caller_share_the_engine_and_its_bits(llama):
    """Python threads calling the step at once take turns on one pool; each gets the bits
    it gets alone."""
    kernels.set_engine_threads(2)
    try:
        inputs = [torch.randint(0, 320, (rows, 4), generator=torch.Generator().manual_seed(rows)) for rows in (1, 3, 9)]
        alone = [_kv_run(llama, tokens, steps=3)(llama.forward)[0] for tokens in inputs]
        results: dict[int, torch.Tensor] = {}

        def run(index: int) -> None:
            for _ in range(5):
                results[index] = _kv_run(llama, inputs[index], steps=3)(llama.forward)[0]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        kernels.native().set_threads(0)
    assert all(torch.equal(results[i], alone[i]) for i in range(len(inputs)))


@native
def test_the_float_primitives_match_bit_for_bit():
    module = kernels.native()
    x = torch.cat([torch.randn(200_000) * 30, torch.tensor([-1e30, -87.5, -87.0, 0.0, -0.0, 88.0, 88.5, 1e30])])
    assert torch.equal(module.exp_fixed(x), fixed_order.exp_fixed(x))
    assert (fixed_order.exp_fixed(x[:200_000]) / torch.exp(x[:200_000].clamp(-87, 88)) - 1).abs().max() < 1e-6
    y = torch.cat([torch.rand(200_000) * 100 + 1e-7, torch.tensor([1e-30, 1e30, 1.0])])
    assert torch.equal(module.rsqrt_fixed(y), fixed_order.rsqrt_fixed(y))
    assert (fixed_order.rsqrt_fixed(y) * y.double().sqrt() - 1).abs().max() < 1e-6


def test_a_padded_pair_sum_equals_the_shorter_one():
    """Why the native step may stop at a row's own keys: zeros past them only add +0."""
    x = torch.randn(4, 37)
    padded = torch.cat([x, torch.zeros(4, 90)], dim=1)
    assert torch.equal(fixed_order.pair_sum(x, -1), fixed_order.pair_sum(padded, -1))


def test_gpt2_uses_the_fixed_order_path_batch_invariantly():
    from transformers import GPT2Config as HFConfig, GPT2LMHeadModel

    torch.manual_seed(0)
    hf = GPT2LMHeadModel(HFConfig(vocab_size=320, n_positions=128, n_embd=64, n_layer=2, n_head=4)).eval()
    config = GPT2Config.from_hf(hf.config.to_dict())
    model = GPT2Model(config, GPT2Model.convert(config, hf.state_dict()))
    assert not hasattr(model, "native")  # GPT-2 has no native step: one path, no second one to match
    tokens = torch.randint(0, 320, (4, 6), generator=torch.Generator().manual_seed(4))
    batched = model.forward(tokens, model.new_cache(4, 10))
    assert torch.equal(model.forward(tokens[1:2], model.new_cache(1, 10))[0], batched[1])
    with torch.no_grad():
        float_logits = hf(tokens).logits[:, -1]
    assert (batched - float_logits).abs().max() / float_logits.abs().max() < 0.1


_CHILD = r"""
import hashlib, json, sys, torch
sys.path.insert(0, {root!r})
from tests.core.engine.test_native import _tiny_llama, _kv_run
from billion_songs.core.engine import kernels
model = _tiny_llama()
tokens = torch.randint(0, 320, (3, 6), generator=torch.Generator().manual_seed(5))
logits, _ = _kv_run(model, tokens, steps=4)(model.forward)
module = kernels.native()
print(json.dumps({{"isa": module.isa if module else None, "native": model.native is not None,
                  "sha": hashlib.sha256(logits.numpy().tobytes()).hexdigest()}}))
"""


def _child(env_extra: dict, tmp_path) -> tuple[dict, str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_extra}
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=root)], capture_output=True, text=True,
                         env=env, timeout=900, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def _expected_sha() -> str:
    import hashlib

    model = _tiny_llama()
    tokens = torch.randint(0, 320, (3, 6), generator=torch.Generator().manual_seed(5))
    logits, _ = _kv_run(model, tokens, steps=4)(model.forward_reference)
    return hashlib.sha256(logits.numpy().tobytes()).hexdigest()


def test_without_the_native_engine_the_same_bits(tmp_path):
    result, _ = _child({"BILLION_SONGS_NATIVE": "0"}, tmp_path)
    assert not result["native"] and result["sha"] == _expected_sha()


def test_a_failed_build_falls_back_with_one_line_on_stderr(tmp_path):
    cache = tmp_path / "fresh-cache"
    result, stderr = _child({"BILLION_SONGS_CACHE": str(cache), "BILLION_SONGS_CXX": "/nonexistent/c++"}, tmp_path)
    assert not result["native"] and result["sha"] == _expected_sha()
    lines = [line for line in stderr.splitlines() if "native engine unavailable" in line]
    assert len(lines) == 1, stderr[-2000:]
    assert not [p for p in (cache / "kernels").iterdir() if p.name.startswith(".build-")]  # no leftovers


@pytest.mark.slow
@native
def test_the_avx2_build_gives_the_same_bits(tmp_path):
    """On an AVX-512 VNNI CPU, the AVX2 variant (vpmaddubsw, 256-bit float code) as well."""
    if kernels.cpu_isa() != "avx512vnni":
        pytest.skip("this CPU only runs the AVX2 variant, which the other tests cover")
    result, _ = _child({"BILLION_SONGS_NATIVE_ISA": "avx2"}, tmp_path)
    assert result["isa"] == "avx2" and result["native"]
    assert result["sha"] == _expected_sha()


def test_a_generator_without_a_native_step_keeps_torch_threads(tiny_gpt2_dir):
    """GPT-2 runs on the PyTorch path: torch keeps the threads asked for."""
    from billion_songs.core.loader import load_generator

    load_generator(str(tiny_gpt2_dir), threads=2)
    assert torch.get_num_threads() == 2
