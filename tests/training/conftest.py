from pathlib import Path

import pytest

from selectkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "configs" / "har" / "synthetic_coss.yaml"


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    """One CoSS fit on the synthetic body-sensor network (about 10 s); returns the best checkpoint."""
    root = tmp_path_factory.mktemp("synthetic_run")
    main(
        ["fit", "--config", str(SYNTHETIC), "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false",
         "--trainer.logger.init_args.save_dir", str(root)]
    )
    ckpts = sorted(root.rglob("best.ckpt"))
    assert ckpts, list(root.rglob("*"))
    return ckpts[0]
