import pytest

from selectkit.edge import BOARDS, RUNTIME_FLASH_BYTES, RUNTIME_RAM_BYTES, fit_check, get_board, list_boards


def test_profiles_cover_the_named_boards():
    assert {"nano33ble", "stm32f746", "stm32l4", "esp32s3", "pico"} <= set(list_boards())
    nano = get_board("nRF52840")  # an alias, case-insensitive
    assert nano.key == "nano33ble" and nano.flash_bytes == 1024 * 1024 and nano.ram_bytes == 256 * 1024
    for board in BOARDS.values():
        assert board.flash_bytes > 0 and board.ram_bytes > 0 and board.name


def test_unknown_board_names_the_choices():
    with pytest.raises(ValueError, match=r"board='uno' is not a known board; choose one of: nano33ble"):
        get_board("uno")


def test_fit_check_adds_the_stated_allowances_and_margin():
    fit = fit_check("nano33ble", model_bytes=50_000, arena_bytes=20_000, io_bytes=500)
    assert fit["fits"]
    assert fit["flash"]["need"] == 50_000 + RUNTIME_FLASH_BYTES
    assert fit["ram"]["need"] == 20_000 + 500 + RUNTIME_RAM_BYTES
    assert fit["ram"]["limit"] == int(256 * 1024 * 0.9)


def test_a_model_that_does_not_fit_reports_the_numbers():
    # An arena just above the 10 % margin of the L4's 128 KiB.
    arena = int(128 * 1024 * 0.9) - RUNTIME_RAM_BYTES + 1
    fit = fit_check("stm32l4", model_bytes=10_000, arena_bytes=arena, io_bytes=0)
    assert not fit["fits"] and fit["flash"]["fits"] and not fit["ram"]["fits"]
    assert fit["ram"]["need"] == fit["ram"]["limit"] + 1
    assert fit_check("stm32l4", model_bytes=10_000, arena_bytes=arena, io_bytes=0, margin=0.05)["fits"]


@pytest.mark.parametrize("kwargs, match", [({"margin": 1.0}, "margin=1.0"), ({"arena_bytes": -1}, "arena_bytes=-1")])
def test_fit_check_validates(kwargs, match):
    args = {"model_bytes": 1, "arena_bytes": 1, "io_bytes": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit_check("pico", **args)
