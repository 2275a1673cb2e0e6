"""Tiny random-initialised Llama-family models and a word-level tokenizer: offline, seconds."""

import torch


def tiny_config(model_type: str = "llama", **overrides):
    from transformers import AutoConfig

    kwargs = dict(vocab_size=101, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False)
    if model_type == "mistral":
        kwargs["sliding_window"] = None
    kwargs.update(overrides)
    return AutoConfig.for_model(model_type, **kwargs)


def tiny_model(model_type: str = "llama", seed: int = 0, **overrides):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = tiny_config(model_type, **overrides)
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config).eval()
    # Sharper attention than the default init, so that top-k choices are well separated.
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(8.0)
    return model


WORDS = ("the a of to and in is was for on with as by at from it that this number magic special what "
         "text river castle blue green sky grass sun question answer").split()


def save_tiny_model_dir(path):
    """A local from_pretrained folder: tiny Llama weights + a word-level tokenizer with a chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    vocab = {w: i for i, w in enumerate(specials + [str(d) for d in range(10)] + list(WORDS) + [".", ":", "?", ","])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.chat_template = "{% for m in messages %}<s> {{ m['content'] }} </s>{% endfor %}{% if add_generation_prompt %} answer :{% endif %}"
    fast.save_pretrained(path)
    model = tiny_model("llama", vocab_size=len(vocab), eos_token_id=2, bos_token_id=1)
    model.save_pretrained(path)
    return path
