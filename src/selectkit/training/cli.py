"""``selectkit fit|validate|test|predict``: a LightningCLI with linked data/model sizes."""

from __future__ import annotations

from collections.abc import Sequence

from pytorch_lightning.cli import LightningCLI

from selectkit.training.callbacks import SelectionReport, SelectorAnnealing

__all__ = ["SelectkitCLI", "run_lightning_cli", "LINKS"]

#: data module property -> model argument; configs never repeat these numbers.
LINKS = {
    "num_sensors": "num_sensors",
    "num_axes": "num_axes",
    "window_length": "window_length",
    "input_rate": "input_rate",
    "num_classes": "num_classes",
    "sensor_names": "sensor_names",
    "class_names": "class_names",
    # EEG (selectkit.training.eeg); links whose source or target a class lacks are skipped.
    "num_channels": "num_channels",
    "num_times": "num_times",
    "sfreq": "sfreq",
    "channel_names": "channel_names",
    "nodes": "nodes",
}


class SelectkitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        for src, dst in LINKS.items():
            parser.link_arguments(f"data.{src}", f"model.init_args.{dst}", apply_on="instantiate")


def run_lightning_cli(args: Sequence[str] | None) -> SelectkitCLI:
    from pytorch_lightning import LightningDataModule, LightningModule
    from pytorch_lightning.callbacks import ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    return SelectkitCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=None if args is None else list(args),
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "default_root_dir": "runs",
            "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger", "init_args": {"save_dir": "runs", "name": "selectkit"}},
            "callbacks": [
                ModelCheckpoint(monitor="val/macro_f1", mode="max", save_last=True, filename="best"),
                SelectorAnnealing(),
                SelectionReport(),
            ],
            "log_every_n_steps": 10,
        },
        auto_configure_optimizers=True,
    )
