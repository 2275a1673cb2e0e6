"""Prefill strategies on tiny random Llama-family models, against independent references:
Hugging Face's own forward/generate, its eager attention probabilities, and a second model made
of the upper layers only."""

import logging

import pytest
import torch
import torch.nn.functional as F

from selectkit.llm import H2O, Full, GemFilter, PromptDistill, SnapKV, create_strategy, generate, list_strategies, prefill_shared

from llm_fixtures import tiny_config, tiny_model

N = 48


def prompt(seed=1, n=N, batch=1):
    return torch.randint(3, 101, (batch, n), generator=torch.Generator().manual_seed(seed))


def keep_all(name):
    return {
        "full": Full(),
        "promptdistill": PromptDistill(keep_ratio=1.0, layer=1),
        "gemfilter": GemFilter(keep_ratio=1.0, layer=2),
        "snapkv": SnapKV(keep_ratio=1.0, window=4),
        "h2o": H2O(keep_ratio=1.0),
    }[name]


def eager_attentions(model, ids):
    """Attention probabilities ``(B, H, N, N)`` per layer from Hugging Face's eager attention."""
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            return model(ids, output_attentions=True).attentions
    finally:
        model.set_attn_implementation("sdpa")


def avg_pool(scores, kernel=5):
    return F.avg_pool1d(scores.unsqueeze(1), kernel, stride=1, padding=kernel // 2, count_include_pad=False).squeeze(1)


def top_positions(scores, k, forced_last):
    scores = scores.clone()
    if forced_last:
        scores[..., -forced_last:] = float("inf")
    return torch.sort(torch.topk(scores, k, dim=-1).indices, dim=-1).values


def test_registry_lists_every_strategy():
    assert list_strategies() == ["full", "promptdistill", "gemfilter", "snapkv", "h2o"]
    assert isinstance(create_strategy("h2o", k=8), H2O)
    with pytest.raises(ValueError, match="strategy='nope' must be one of"):
        create_strategy("nope")


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
@pytest.mark.parametrize("name", ["full", "promptdistill", "gemfilter", "snapkv", "h2o"])
def test_keeping_every_token_reproduces_the_full_model(name, model_type):
    model = tiny_model(model_type)
    ids = prompt()
    with torch.no_grad():
        ref_logits = model(ids).logits[:, -1]
    ref_tokens = model.generate(ids, max_new_tokens=6, do_sample=False, min_new_tokens=6)[:, N:]
    result = keep_all(name)(model, ids)
    assert not result.fallback
    torch.testing.assert_close(result.logits, ref_logits, rtol=0, atol=1e-5)
    assert generate(model, result, 6).tolist() == ref_tokens.tolist()


@pytest.mark.parametrize("layer", [0, 1, 2])
@pytest.mark.parametrize("cls", [PromptDistill, GemFilter])
def test_kept_tokens_are_the_top_k_of_the_attention_at_the_layer(cls, layer, llama):
    k = 12
    for seed in range(3):
        ids = prompt(seed)
        att = eager_attentions(llama, ids)[layer][:, :, -1]  # (B, H, N): the last query's probabilities
        want = top_positions(avg_pool(att.mean(1)), k, forced_last=1)
        result = cls(k=k, layer=layer)(llama, ids)
        assert result.kept.tolist() == want.tolist()
        assert result.kept[0, -1] == N - 1  # the last token is always kept


def test_promptdistill_runs_the_upper_layers_on_the_kept_hidden_states_at_original_positions(llama):
    from transformers import AutoModelForCausalLM

    layer, k = 1, 10
    ids = prompt(3)
    result = PromptDistill(k=k, layer=layer)(llama, ids)
    with torch.no_grad():
        hidden = llama(ids, output_hidden_states=True).hidden_states[layer + 1]  # output of layer L
    # A second model made of layers L+1.. only, fed the kept hidden states.
    tail = AutoModelForCausalLM.from_config(tiny_config("llama", num_hidden_layers=llama.config.num_hidden_layers - layer - 1)).eval()
    for j, block in enumerate(tail.model.layers):
        block.load_state_dict(llama.model.layers[layer + 1 + j].state_dict())
    tail.model.norm.load_state_dict(llama.model.norm.state_dict())
    tail.lm_head.load_state_dict(llama.lm_head.state_dict())
    kept_hidden = hidden[:, result.kept[0]]
    with torch.no_grad():
        original = tail(inputs_embeds=kept_hidden, position_ids=result.kept).logits[:, -1]
        renumbered = tail(inputs_embeds=kept_hidden, position_ids=torch.arange(k)[None]).logits[:, -1]
    torch.testing.assert_close(result.logits, original, rtol=0, atol=1e-5)
    assert not torch.allclose(result.logits, renumbered, atol=1e-3)  # positions matter: they are the original ones
    assert result.next_position == N
    assert result.cache_lengths == [N, N, k, k]


def test_promptdistill_cache_truncation_and_stages(llama):
    ids = prompt(4)
    single = PromptDistill(k=10, layer=1, truncate_cache=True)(llama, ids)
    assert single.cache_lengths == [10] * 4
    staged = PromptDistill(stages=[(0, 24), (2, 10)])(llama, ids)
    assert staged.cache_lengths == [N, 24, 24, 10]
    first = PromptDistill(k=24, layer=0)(llama, ids)
    assert set(staged.kept[0].tolist()) <= set(first.kept[0].tolist())
    assert staged.kept[0, -1] == N - 1
    truncated = PromptDistill(stages=[(0, 24), (2, 10)], truncate_cache=True)(llama, ids)
    assert truncated.cache_lengths == [10] * 4
    # Truncation keeps exactly the cache rows of the kept positions.
    full = Full()(llama, ids)
    torch.testing.assert_close(truncated.cache.layers[0].keys, full.cache.layers[0].keys[:, :, truncated.kept[0]])
    assert len(generate(llama, truncated, 4)[0]) == 4


def test_gemfilter_second_pass_sees_exactly_the_selected_ids(llama):
    ids = prompt(5)
    seen = []
    hook = llama.model.embed_tokens.register_forward_hook(lambda mod, args, out: seen.append(args[0].clone()))
    try:
        result = GemFilter(k=9, layer=1)(llama, ids)
    finally:
        hook.remove()
    assert len(seen) == 2  # the first pass (layers 0..r) and the re-run on the kept ids
    assert seen[0].tolist() == ids.tolist()
    assert seen[1].tolist() == ids[:, result.kept[0]].tolist()
    with torch.no_grad():
        rerun = llama(ids[:, result.kept[0]]).logits[:, -1]
    torch.testing.assert_close(result.logits, rerun, rtol=0, atol=1e-5)
    assert result.next_position == 9 and result.cache_lengths == [9] * 4


def test_snapkv_and_h2o_keep_the_budget_per_layer_and_head_chosen_from_the_attention(llama):
    ids = prompt(6)
    att = eager_attentions(llama, ids)
    hkv, group = llama.config.num_key_value_heads, llama.config.num_attention_heads // llama.config.num_key_value_heads
    k, window = 16, 4
    snap = SnapKV(k=k, window=window)(llama, ids)
    h2o = H2O(k=k, recent=5)(llama, ids)
    full = Full()(llama, ids)
    for result in (snap, h2o):
        assert result.cache_lengths == [k] * llama.config.num_hidden_layers
        for i, layer in enumerate(result.cache.layers):
            assert layer.keys.shape == (1, hkv, k, llama.config.hidden_size // llama.config.num_attention_heads)
            # Each head's cache rows are the full cache's rows at its kept positions.
            for h in range(hkv):
                torch.testing.assert_close(layer.values[0, h], full.cache.layers[i].values[0, h, result.kept[0, i, h]])
    for i, a in enumerate(att):
        per_kv = a.reshape(1, hkv, group, N, N)
        snap_scores = avg_pool(per_kv[:, :, :, -window:].sum(3).mean(2).reshape(hkv, N)).reshape(1, hkv, N)
        assert snap.kept[:, i].tolist() == top_positions(snap_scores, k, forced_last=window).tolist()
        h2o_scores = per_kv.sum(3).sum(2)
        assert h2o.kept[:, i].tolist() == top_positions(h2o_scores, k, forced_last=5).tolist()
    torch.testing.assert_close(snap.logits, full.logits)
    assert len(generate(llama, snap, 5)[0]) == 5 and len(generate(llama, h2o, 5)[0]) == 5


def test_shared_prefill_equals_separate_calls(llama):
    ids = prompt(7)
    presses = [SnapKV(k=12, window=4), H2O(k=12)]
    full, results = prefill_shared(llama, ids, presses)
    torch.testing.assert_close(full.logits, Full()(llama, ids).logits)
    for press, shared in zip(presses, results):
        alone = press(llama, ids)
        assert shared.strategy == alone.strategy and shared.kept.tolist() == alone.kept.tolist()
        torch.testing.assert_close(shared.cache.layers[3].keys, alone.cache.layers[3].keys)


def test_batch_of_two_prompts(llama):
    ids = prompt(8, batch=2)
    for strategy in (PromptDistill(k=10, layer=1), GemFilter(k=10, layer=1), SnapKV(k=10, window=4), H2O(k=10)):
        result = strategy(llama, ids)
        one = strategy(llama, ids[1:])
        assert result.kept[1].tolist() == one.kept[0].tolist()
        torch.testing.assert_close(result.logits[1:], one.logits, rtol=1e-4, atol=1e-4)
        assert generate(llama, result, 3).shape == (2, 3)


def test_budget_covering_the_prompt_falls_back_to_full_with_a_notice(llama, caplog):
    ids = prompt(9, n=20)
    full = Full()(llama, ids)
    for strategy in (PromptDistill(k=20, layer=1), GemFilter(k=64, layer=1), SnapKV(k=20), H2O(k=25)):
        with caplog.at_level(logging.WARNING, logger="selectkit.llm.prefill"):
            result = strategy(llama, ids)
        assert result.fallback and result.strategy == "full" and result.num_kept == 20
        assert f"covers the 20-token prompt" in caplog.text
        torch.testing.assert_close(result.logits, full.logits)


def test_bad_input_is_a_clear_error(llama):
    ids = prompt(10)
    with pytest.raises(ValueError, match=r"layer=4 is out of range: the model has 4 layers \(0..3\)"):
        PromptDistill(k=8, layer=4)(llama, ids)
    with pytest.raises(ValueError, match="layer=-1 is out of range"):
        GemFilter(k=8, layer=-1)(llama, ids)
    with pytest.raises(ValueError, match="prompt is empty"):
        PromptDistill(k=8, layer=1)(llama, torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids must be an int64 tensor"):
        Full()(llama, ids.float())
    with pytest.raises(ValueError, match="a budget is required"):
        SnapKV()
    with pytest.raises(ValueError, match="k=0 must be >= 1"):
        H2O(k=0)
    with pytest.raises(ValueError, match="keep_ratio=1.5 must be in"):
        GemFilter(keep_ratio=1.5)
    with pytest.raises(ValueError, match="layers must ascend and budgets k descend"):
        PromptDistill(stages=[(2, 10), (1, 5)])
    with pytest.raises(ValueError, match="recent=9 must be <= k=8"):
        H2O(k=8, recent=9)
    with pytest.raises(ValueError, match="window=0 must be an integer >= 1"):
        SnapKV(k=8, window=0)
    with pytest.raises(ValueError, match="exceeds the model's sliding_window=16"):
        Full()(tiny_model("mistral", sliding_window=16), ids)
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        generate(llama, Full()(llama, ids), 0)


def test_unsupported_architecture_is_refused():
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=64))
    with pytest.raises(ValueError, match=r"unsupported architecture model_type='gpt2'; supported: \['llama', 'mistral', 'qwen2'\]"):
        PromptDistill(k=4, layer=0)(gpt2, torch.ones(1, 8, dtype=torch.long))


def test_generate_stops_at_end_of_sequence(llama):
    ids = prompt(11)
    result = Full()(llama, ids)
    first = int(result.logits.argmax())
    assert generate(llama, result, 10, eos_token_id=first).tolist() == [[first]]
