"""A LoRA adapter directory loads as a model of its own: merged into its base, converted."""

import json

import pytest
import torch

from billion_songs.core.engine.modelfile import ModelLoadError, read_model_dir
from billion_songs.core.loader import resolve_model_dir


@pytest.fixture(scope="module")
def adapter_dir(tiny_gpt2_dir, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_gpt2_dir))
    # init_lora_weights=False: random B as well as A, so the adapter visibly changes the model.
    tuned = get_peft_model(base, LoraConfig(r=4, lora_alpha=32, target_modules=["c_attn", "c_fc"],
                                            init_lora_weights=False, fan_in_fan_out=True))
    directory = tmp_path_factory.mktemp("adapter")
    tuned.save_pretrained(directory)
    return directory


def test_an_adapter_is_merged_and_served_under_its_own_version(adapter_dir, tiny_gpt2_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_gpt2_dir)
    tuned = read_model_dir(resolve_model_dir(str(adapter_dir)))
    base = read_model_dir(resolve_model_dir(str(tiny_gpt2_dir)))
    assert tuned.model_version != base.model_version
    assert tuned.manifest.source["kind"] == "lora"

    merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_gpt2_dir)),
                                       str(adapter_dir)).merge_and_unload().eval()
    tokens = torch.tensor([[464, 3797, 286, 262, 1181]])
    with torch.no_grad():
        reference = merged(tokens).logits[0, -1]
    with torch.inference_mode():
        ours = tuned.model.forward(tokens, tuned.model.new_cache(1, 8))[0]
        plain = base.model.forward(tokens, base.model.new_cache(1, 8))[0]
    assert (ours - reference).abs().max() / reference.abs().max() < 0.1
    assert (plain - reference).abs().max() > 10 * (ours - reference).abs().max()


def test_an_adapter_whose_base_is_missing_is_a_clear_error(adapter_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken-adapter"
    shutil.copytree(adapter_dir, broken)
    config = json.loads((broken / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tmp_path / "gone")
    (broken / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="base model"):
        resolve_model_dir(str(broken))
