import pytest

from selectkit.io import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "r.json"
    atomic_write_json(p, {"a": 1})
    atomic_write_json(p, {"a": 2})
    assert p.read_text().strip().endswith("}") and '"a": 2' in p.read_text()
    assert [f.name for f in p.parent.iterdir()] == ["r.json"]


def test_no_overwrite_without_force(tmp_path):
    p = tmp_path / "out.txt"
    atomic_write_text(p, "first")
    with pytest.raises(FileExistsError, match="--force"):
        atomic_write_text(p, "second", force=False)
    assert p.read_text() == "first"


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "out.bin"
    atomic_write_bytes(p, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(p, "not bytes")  # type: ignore[arg-type]
    assert p.read_bytes() == b"old"
    assert [f.name for f in tmp_path.iterdir()] == ["out.bin"]
