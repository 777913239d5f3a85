"""The AVX2 int8 GEMV is exact: the same int32 sums as integer matrix multiplication, for
every shape, worst-case input and thread count."""

import pytest
import torch

from billion_songs.core.engine import gemv

pytestmark = pytest.mark.skipif(not gemv.available(), reason="int8 gemv unavailable (no AVX2 CPU or no C++ compiler)")


def _u8(x_q: torch.Tensor) -> torch.Tensor:
    return (x_q.to(torch.int16) + 64).to(torch.uint8)


def _exact(x_q: torch.Tensor, weight_t: torch.Tensor) -> torch.Tensor:
    return (x_q.long() @ weight_t.long()).to(torch.int32)


def _random(k: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x_q = torch.randint(-63, 64, (k,), dtype=torch.int8, generator=generator)
    weight_t = torch.randint(-127, 128, (k, n), dtype=torch.int8, generator=generator)
    return x_q, weight_t


@pytest.mark.parametrize("k", [576, 1536, 3072, 100, 33, 1])
@pytest.mark.parametrize("n", [1, 7, 960])
def test_random_inputs_give_the_exact_integer_sums(k, n):
    x_q, weight_t = _random(k, n)
    assert torch.equal(gemv.gemv(_u8(x_q), gemv.pack(weight_t)), _exact(x_q, weight_t))


def test_the_lm_head_shape_matches_torch_int_mm():
    x_q, weight_t = _random(576, 49152, seed=1)
    out = gemv.gemv(_u8(x_q), gemv.pack(weight_t))
    assert out.dtype == torch.int32 and out.shape == (49152,)
    assert torch.equal(out, torch._int_mm(x_q.view(1, -1), weight_t)[0])


@pytest.mark.parametrize("k", [3072, 100])
@pytest.mark.parametrize("x_value", [63, -63])
@pytest.mark.parametrize("w_value", [127, -127, -128])
def test_worst_case_inputs_never_saturate(k, x_value, w_value):
    x_q = torch.full((k,), x_value, dtype=torch.int8)
    weight_t = torch.full((k, 7), w_value, dtype=torch.int8)
    out = gemv.gemv(_u8(x_q), gemv.pack(weight_t))
    assert torch.equal(out, torch.full((7,), k * x_value * w_value, dtype=torch.int32))


def test_a_few_rows_at_once_give_each_row_alone():
    x_q, weight_t = _random(1536, 577, seed=2)
    rows = torch.stack([x_q, -x_q, torch.full_like(x_q, 63)])
    packed = gemv.pack(weight_t)
    together = gemv.gemv(_u8(rows), packed)
    assert torch.equal(together, _exact(rows, weight_t))
    for i in range(3):
        assert torch.equal(gemv.gemv(_u8(rows[i]), packed), together[i])


def test_results_do_not_depend_on_the_thread_count():
    x_q, weight_t = _random(576, 3072, seed=3)
    packed = gemv.pack(weight_t)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = gemv.gemv(_u8(x_q), packed)
        torch.set_num_threads(2)
        two = gemv.gemv(_u8(x_q), packed)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, two) and torch.equal(one, _exact(x_q, weight_t))


def test_out_of_range_activations_and_wrong_shapes_are_rejected():
    x_q, weight_t = _random(64, 8)
    packed = gemv.pack(weight_t)
    x_u8 = _u8(x_q)
    x_u8[5] = 128  # 8-bit activations could saturate vpmaddubsw
    with pytest.raises(RuntimeError, match=r"\[0, 127\]"):
        gemv.gemv(x_u8, packed)
    with pytest.raises(RuntimeError, match="wrong K"):
        gemv.gemv(torch.ones(65, dtype=torch.uint8), packed)
    with pytest.raises(ValueError):
        gemv.pack(weight_t.float())
