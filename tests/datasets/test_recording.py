import numpy as np
import pytest

from selectkit.datasets.recording import LabelInterval, Recording, SensorStream, clean_samples


def test_clean_samples_sorts_merges_and_counts(caplog):
    t = np.array([0.0, 0.2, 0.1, 0.2, 0.3, 0.4])
    v = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan], [6.0]])
    with caplog.at_level("INFO"):
        tc, vc, counts = clean_samples(t, v, source="file.csv")
    assert tc.tolist() == [0.0, 0.1, 0.2, 0.4]
    assert vc[:, 0].tolist() == [1.0, 3.0, 3.0, 6.0]  # duplicate 0.2 -> mean(2, 4)
    assert counts == {"rows": 6, "non_finite": 1, "duplicates": 1, "out_of_order": 1}
    assert "file.csv" in caplog.text and "dropped 1" in caplog.text


def test_clean_samples_shape_error():
    with pytest.raises(ValueError, match="f.bin: timestamps"):
        clean_samples(np.zeros(3), np.zeros((4, 2)), source="f.bin")


def stream(**kw):
    base = dict(name="s", position="wrist", modality="acc", axes=("x", "y"), rate=50.0,
                timestamps=np.arange(5) / 50.0, values=np.zeros((5, 2), np.float32))
    base.update(kw)
    return SensorStream(**base)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"values": np.zeros((5, 3), np.float32)}, r"values has shape \(5, 3\), expected \(T, 2\)"),
        ({"timestamps": np.array([0, 1, 1, 2, 3.0])}, "strictly increasing"),
        ({"rate": 0.0}, "rate=0.0"),
        ({"timestamps": np.arange(4.0)}, r"timestamps has shape \(4,\)"),
        ({"axes": ()}, "axes must not be empty"),
    ],
)
def test_sensor_stream_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        stream(**kw)


def test_cost_is_rate_axes_bytes():
    assert stream().cost() == 50.0 * 2 * 2
    assert stream(bytes_per_sample=4).cost(10.0) == 10.0 * 2 * 4


def test_recording_rejects_overlapping_labels():
    with pytest.raises(ValueError, match="overlap"):
        Recording("a", "a", {"s": stream()}, [LabelInterval(0, 2, "x"), LabelInterval(1, 3, "y")])
    with pytest.raises(ValueError, match="end=1 must be after start=2"):
        LabelInterval(2, 1, "x")
    with pytest.raises(ValueError, match="sensor key 't'"):
        Recording("a", "a", {"t": stream()}, [])
