"""The ``selectkit`` command.

    selectkit fit|validate|test|predict --config configs/har/crowdsignals_coss.yaml
                           train / evaluate through the Lightning CLI (``--help`` for all options)
    selectkit prune --ckpt RUN/checkpoints/best.ckpt --sensors K | --cost-budget BYTES_PER_S   (EEG: no budget flag)
    selectkit export --ckpt RUN/pruned/pruned.ckpt --out OUT [--formats onnx,tflite] [--board nano33ble]
                           int8 ONNX / TFLite, TFLite-Micro check, C header, parity and board-fit report
    selectkit demo         the main job on CrowdSignals: fit, prune to a budget, export, summary table
    selectkit prompt --strategy promptdistill --keep 1024 --layer 12 --file prompt.txt
                           answer a long prompt with a prefill strategy (PromptDistill, GemFilter,
                           SnapKV, H2O or full); prints answer, kept tokens and prefill time
    selectkit recovery     ground-truth recovery: true vs chosen items for every selector
    selectkit selectors    list the registered selectors and their properties
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _recovery(args: argparse.Namespace) -> int:
    import torch

    from selectkit.training.recovery import run_all

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    print("Ground-truth recovery: only the 'true' items carry the label (seeded synthetic task).")
    print(f"Each trainable selector is trained for {args.steps} steps behind a small MLP; "
          "attention_topk is training-free.\n")
    results = run_all(steps=args.steps, seed=args.seed)
    rows = [
        [r.selector, str(r.truth), str(r.chosen), "yes" if r.recovered else "NO", f"{r.accuracy:.3f}", "-" if r.bayes_accuracy is None else f"{r.bayes_accuracy:.3f}", str(r.steps), f"{r.seconds:.2f}"]
        for r in results
    ]
    print(_table(rows, ["selector", "true items", "chosen", "recovered", "test acc", "bayes acc", "steps", "seconds"]))
    print("\n(test acc: accuracy on held-out samples, next to the best any classifier can reach (bayes acc);"
          "\n for attention_topk, the fraction of samples whose kept set is exactly the truth.)")
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    failed = [r.selector for r in results if not r.recovered]
    if failed:
        print(f"\nnot recovered: {failed}", file=sys.stderr)
        return 1
    return 0


def _selectors(args: argparse.Namespace) -> int:
    from selectkit.selection import get_selector_class, list_selectors

    rows = []
    for name in list_selectors():
        cls = get_selector_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        rows.append([name, cls.__name__, "yes" if cls.trainable else "no", "/".join(cls.reductions), doc])
    print(_table(rows, ["name", "class", "trainable", "reductions", "summary"]))
    return 0


LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")


def _quiet_third_party() -> None:
    import warnings

    # Deprecation chatter from Lightning internals on current torch; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*skip_none parameter was deprecated.*")


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    _quiet_third_party()
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(message)s")
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHTNING_COMMANDS:
        from selectkit.training.cli import run_lightning_cli

        logging.getLogger("selectkit").setLevel(logging.INFO)
        # From the shell LightningCLI reads sys.argv itself; from Python it gets the list.
        run_lightning_cli(None if from_command_line else argv)
        return 0
    parser = argparse.ArgumentParser(
        prog="selectkit",
        description="Learned selection layers.",
        epilog="Training: selectkit fit|validate|test|predict --config configs/har/crowdsignals_coss.yaml "
        "(LightningCLI; `selectkit fit --help` lists every option).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    from selectkit.training import demo as demo_mod

    demo = sub.add_parser("demo", help="the main job on CrowdSignals: fit CoSS, prune to a budget, test")
    demo_mod.build_parser(demo)
    demo.set_defaults(func=demo_mod.main)
    rec = sub.add_parser("recovery", help="ground-truth recovery: true vs chosen items for every selector")
    rec.add_argument("--steps", type=int, default=300, help="training steps per selector (default 300)")
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--json", action="store_true", help="also print the results as JSON")
    rec.set_defaults(func=_recovery)
    sel = sub.add_parser("selectors", help="list the registered selectors")
    sel.set_defaults(func=_selectors)
    from selectkit.training import prune as prune_mod

    pr = sub.add_parser("prune", help="prune a CoSS checkpoint to a sensor / data-rate budget, or an EEG channel selection to its k channels", description=prune_mod.__doc__)
    prune_mod.build_parser(pr)
    pr.set_defaults(func=prune_mod.main)
    from selectkit.export import pipeline as export_mod

    ex = sub.add_parser("export", help="export a pruned checkpoint: int8 ONNX / TFLite, C header, board fit", description=export_mod.__doc__)
    export_mod.build_parser(ex)
    ex.set_defaults(func=export_mod.main)
    from selectkit.llm import prompt as prompt_mod

    pm = sub.add_parser("prompt", help="answer a long prompt with a prefill strategy (PromptDistill, GemFilter, SnapKV, H2O)",
                        description=prompt_mod.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    prompt_mod.build_parser(pm)
    pm.set_defaults(func=prompt_mod.main)
    args = parser.parse_args(argv)
    if getattr(args, "steps", 1) < 1:
        parser.error(f"--steps={args.steps} must be >= 1")
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, ModuleNotFoundError) as err:
        # Bad input is the user's to fix: one clear line, not a traceback.
        print(f"selectkit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
