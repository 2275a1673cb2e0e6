"""``selectkit prompt`` and load_model on a local from_pretrained folder (tiny model, offline)."""

import json

import pytest

from llm_fixtures import save_tiny_model_dir
from selectkit.cli import main
from selectkit.llm import encode_prompt, load_model

TEXT = "the special magic number for the river is 1 2 3 . the sky is blue . " * 6 + "what is the magic number ?"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model_dir(tmp_path_factory.mktemp("tiny-llama"))


def test_load_model_and_chat_template(model_dir):
    model, tokenizer = load_model(model_dir)
    assert not model.training and model.config._attn_implementation == "sdpa"
    chat = encode_prompt(tokenizer, "the sky is blue")
    plain = encode_prompt(tokenizer, "the sky is blue", chat=False)
    assert chat.shape[1] > plain.shape[1]  # wrapped in the chat template
    with pytest.raises(ValueError, match="prompt is empty"):
        encode_prompt(tokenizer, "   ")


@pytest.mark.parametrize("strategy, extra", [
    ("promptdistill", ["--keep", "12", "--layer", "1"]),
    ("promptdistill", ["--stages", "0:30,2:12", "--truncate-cache"]),
    ("gemfilter", ["--keep-ratio", "0.25", "--layer", "2"]),
    ("snapkv", ["--keep", "16", "--window", "4"]),
    ("h2o", ["--keep", "16"]),
    ("full", []),
])
def test_prompt_prints_answer_kept_tokens_and_time(model_dir, tmp_path, capsys, strategy, extra):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(TEXT)
    args = ["prompt", "--strategy", strategy, "--file", str(prompt), "--model", str(model_dir), "--max-new-tokens", "4", *extra]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("answer:") and "prefill time:" in out
    assert "kept tokens: " in out or "kept cache entries per KV head: " in out
    assert main(args + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["strategy"] == strategy and report["prefill_seconds"] > 0
    if strategy != "full":
        assert report["kept_tokens"] < report["prompt_tokens"]


def test_budget_covering_the_prompt_says_so(model_dir, capsys):
    assert main(["prompt", "--strategy", "promptdistill", "--keep", "5000", "--layer", "1", "--text", TEXT,
                 "--model", str(model_dir), "--max-new-tokens", "2"]) == 0
    out = capsys.readouterr().out
    assert "-> full prefill (budget covers the prompt)" in out


@pytest.mark.parametrize("args, message", [
    (["--strategy", "promptdistill", "--keep", "8", "--layer", "9"], "layer=9 is out of range: the model has 4 layers"),
    (["--strategy", "snapkv"], "--strategy snapkv needs a budget"),
    (["--strategy", "promptdistill", "--stages", "1-8"], "--stages='1-8' must look like LAYER:K"),
    (["--strategy", "h2o", "--keep", "0"], "k=0 must be >= 1"),
])
def test_bad_input_is_one_clear_line(model_dir, capsys, args, message):
    assert main(["prompt", "--text", TEXT, "--model", str(model_dir), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selectkit prompt: error: ") and message in err and "Traceback" not in err


def test_missing_files_and_empty_prompt(model_dir, tmp_path, capsys):
    assert main(["prompt", "--keep", "4", "--file", str(tmp_path / "nope.txt"), "--model", str(model_dir)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["prompt", "--keep", "4", "--text", "hi", "--model", str(tmp_path / "no-model")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["prompt", "--keep", "4", "--layer", "1", "--text", "  ", "--model", str(model_dir)]) == 2
    assert "prompt is empty" in capsys.readouterr().err


def test_unsupported_architecture_folder(tmp_path, capsys):
    from tokenizers import Tokenizer, models
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=60, n_positions=64)).save_pretrained(tmp_path)
    word_level = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token="<unk>").save_pretrained(tmp_path)
    assert main(["prompt", "--keep", "4", "--text", "hi", "--model", str(tmp_path)]) == 2
    assert "unsupported architecture model_type='gpt2'" in capsys.readouterr().err
