"""The inference engine: int8 decoder-only transformers with a batch-invariant forward.

Why our own forward instead of `transformers.generate()` or CTranslate2: the determinism
contract needs per-song sampling noise (CTranslate2 has no per-example seed and no logits
hook) and results that do not depend on batch size or composition. Every matrix product
here multiplies int8 weights by 7-bit activations quantized per row, accumulating in
int32, which is exact on every x86 kernel (see int8.py); everything else works row by row. So a row's logits are bit-identical
whatever else shares its batch and however many threads run it.
"""
