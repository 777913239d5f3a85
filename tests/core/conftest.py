import pytest
import torch

from billion_songs.core.engine import kernels
from tests.model_fixtures import isolated_cache, tiny_gpt2_dir, tiny_lyrics_gpt2_dir  # noqa: F401


@pytest.fixture(autouse=True)
def restored_thread_counts():
    """load_generator sets process-wide thread counts (torch's, the native engine's): each
    test gets back the counts it started with."""
    torch_threads = torch.get_num_threads()
    module = kernels.native()
    engine_threads = module.threads() if module is not None else None
    yield
    torch.set_num_threads(torch_threads)
    if module is not None:
        module.set_threads(engine_threads)
