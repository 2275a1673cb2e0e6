import pytest
import torch

from selectkit.training.datamodule import HARDataModule, random_rotations, rotate_sensors

SYN = {"num_subjects": 3, "intervals_per_class": 1, "interval_s": 12.0}


def test_rotations_are_proper_and_bounded():
    r = random_rotations(64, 30.0, torch.Generator().manual_seed(0))
    eye = torch.eye(3).expand(64, 3, 3)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(64), atol=1e-5, rtol=0)
    angle = torch.arccos(((r.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert float(angle.max()) <= torch.deg2rad(torch.tensor(30.0)) + 1e-4


def test_data_module_sizes_splits_and_normalisation():
    dm = HARDataModule(dataset="synthetic", synthetic=SYN, batch_size=8)
    dm.setup()
    assert (dm.num_sensors, dm.num_axes, dm.window_length, dm.input_rate, dm.num_classes) == (6, 3, 256, 100.0, 4)
    train = dm.dataset("train").tensors[0]
    torch.testing.assert_close(train.mean(dim=(0, 3)), torch.zeros(6, 3), atol=1e-4, rtol=0)
    assert len(dm.split.test) > 0 and "test subjects" in dm.split.notes[0]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 6, 3, 256) and y.shape == (8,)


def test_restricted_and_lower_model_rate():
    dm = HARDataModule(dataset="synthetic", synthetic=SYN)
    sub = dm.restricted(["ankle_acc", "wrist_acc"], 25.0)
    assert sub.sensor_names == ["ankle_acc", "wrist_acc"] and sub.window_length == 64 and sub.input_rate == 25.0
    assert sub.dataset("test").tensors[0].shape[1:] == (2, 3, 64)
    assert sub.sensor_costs() == [25.0 * 3 * 2] * 2
    with pytest.raises(ValueError, match="data.model_rate=30"):
        HARDataModule(dataset="synthetic", synthetic=SYN, model_rate=30.0).window_length


def test_rotation_augmentation_only_in_training():
    dm = HARDataModule(dataset="synthetic", synthetic=SYN, rotate_degrees=90.0, batch_size=4)
    x, y = next(iter(dm.train_dataloader()))
    # Outside a training loop the hook leaves batches alone.
    out = dm.on_after_batch_transfer((x, y), 0)
    assert torch.equal(out[0], x)

    class _Trainer:
        training = True

    dm.trainer = _Trainer()
    rx, ry = dm.on_after_batch_transfer((x, y), 0)
    assert not torch.allclose(rx, x) and torch.equal(ry, y)
    # A rotation keeps each sample's vector length per sensor.
    torch.testing.assert_close(rx.norm(dim=2), x.norm(dim=2), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="3-axis sensors, got 2 axes"):
        rotate_sensors(torch.zeros(1, 1, 2, 4), 10.0)
    with pytest.raises(ValueError, match="rotate_degrees=-1"):
        HARDataModule(dataset="synthetic", rotate_degrees=-1.0)
    with pytest.raises(ValueError, match="dataset='mhealth'"):
        HARDataModule(dataset="mhealth")
