"""Microcontroller board profiles and the check whether a model fits one.

The profiles are data: flash and RAM as the vendors state them for the reference part or board.
:func:`fit_check` is the one place that decides whether a TFLite-Micro model fits; export
reports it, and the body-sensor-network simulator reuses the same profiles.

Budget model (stated, so a reader can redo the arithmetic):

- flash = model flatbuffer + ``runtime_flash_bytes`` -- the TFLite-Micro interpreter, the kernels
  a small CNN needs and a minimal application. A radio stack (e.g. Nordic's SoftDevice, about
  150 KiB) is *not* included; pass a larger allowance when the firmware carries one.
- RAM = tensor arena (measured with the TFLite-Micro interpreter) + the I/O buffers the
  firmware keeps outside the arena (one window being filled while the previous one is
  classified, and the scores) + ``runtime_ram_bytes`` (stack, interpreter object, drivers).
- A board fits when both totals stay below ``(1 - margin)`` of its capacity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from selectkit.validation import check_positive

__all__ = [
    "Board",
    "BOARDS",
    "RUNTIME_FLASH_BYTES",
    "RUNTIME_RAM_BYTES",
    "DEFAULT_MARGIN",
    "list_boards",
    "get_board",
    "fit_check",
]

KIB = 1024

#: TFLite-Micro interpreter + the kernels of a small int8 CNN + a minimal application (bytes).
RUNTIME_FLASH_BYTES = 128 * KIB
#: Stack, interpreter object and drivers outside the tensor arena (bytes).
RUNTIME_RAM_BYTES = 16 * KIB
#: Fraction of flash and RAM kept free (growth of the application, heap fragmentation).
DEFAULT_MARGIN = 0.10


@dataclass(frozen=True)
class Board:
    """One microcontroller board: capacities in bytes, the core and the names it answers to."""

    key: str
    name: str
    mcu: str
    core: str
    clock_mhz: int
    flash_bytes: int
    ram_bytes: int
    aliases: tuple[str, ...] = ()
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BOARDS: dict[str, Board] = {
    b.key: b
    for b in (
        Board(
            "nano33ble", "Arduino Nano 33 BLE Sense", "nRF52840", "Cortex-M4F", 64, 1024 * KIB, 256 * KIB,
            aliases=("nrf52840", "nano33blesense"),
        ),
        Board(
            "stm32f746", "STM32F746G-DISCO", "STM32F746NG", "Cortex-M7", 216, 1024 * KIB, 320 * KIB,
            aliases=("stm32f7",),
        ),
        Board(
            "stm32l4", "STM32L4 family (STM32L476RG, NUCLEO-L476RG)", "STM32L476RG", "Cortex-M4F", 80, 1024 * KIB,
            128 * KIB, aliases=("stm32l476",),
            notes="the L476 reference part; its 128 KiB SRAM is split 96 + 32 KiB, the arena must fit one bank",
        ),
        Board(
            "esp32s3", "ESP32-S3-DevKitC-1 (N8)", "ESP32-S3", "Xtensa LX7", 240, 8192 * KIB, 512 * KIB,
            aliases=("esp32-s3",), notes="8 MiB external flash; internal SRAM only (no PSRAM)",
        ),
        Board(
            "pico", "Raspberry Pi Pico", "RP2040", "Cortex-M0+", 133, 2048 * KIB, 264 * KIB,
            aliases=("rp2040", "rpi-pico"), notes="no FPU and no DSP instructions: int8 kernels matter most here",
        ),
    )
}


def list_boards() -> list[str]:
    """Board keys, in the order of :data:`BOARDS`."""
    return list(BOARDS)


def get_board(name: str) -> Board:
    """The profile for a key or alias (case-insensitive)."""
    wanted = str(name).lower()
    for board in BOARDS.values():
        if wanted == board.key or wanted in board.aliases:
            return board
    names = [f"{b.key} ({', '.join(b.aliases)})" if b.aliases else b.key for b in BOARDS.values()]
    raise ValueError(f"board={name!r} is not a known board; choose one of: {'; '.join(names)}")


def fit_check(
    board: Board | str,
    *,
    model_bytes: int,
    arena_bytes: int,
    io_bytes: int,
    runtime_flash_bytes: int = RUNTIME_FLASH_BYTES,
    runtime_ram_bytes: int = RUNTIME_RAM_BYTES,
    margin: float = DEFAULT_MARGIN,
) -> dict[str, Any]:
    """Flash and RAM needed by a TFLite-Micro model against ``board``, with the numbers.

    Args:
        board: a :class:`Board` or its key / alias.
        model_bytes: size of the ``.tflite`` flatbuffer (stored in flash).
        arena_bytes: the minimal tensor arena measured for the model.
        io_bytes: buffers outside the arena (input window and output scores).
        runtime_flash_bytes, runtime_ram_bytes: the stated allowances (module docstring).
        margin: fraction of each capacity kept free, in ``[0, 1)``.

    Returns:
        ``{"board", "fits", "flash": {...}, "ram": {...}, "margin", ...}``; each of flash / RAM
        holds ``need``, ``capacity``, ``limit`` (capacity minus margin), ``fraction`` and ``fits``.
    """
    b = board if isinstance(board, Board) else get_board(board)
    for name, value in (("model_bytes", model_bytes), ("arena_bytes", arena_bytes), ("io_bytes", io_bytes),
                        ("runtime_flash_bytes", runtime_flash_bytes), ("runtime_ram_bytes", runtime_ram_bytes)):
        check_positive(value, name, allow_zero=True)
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin={margin!r} must be in [0, 1)")

    def budget(need: int, capacity: int, parts: dict[str, int]) -> dict[str, Any]:
        limit = int(capacity * (1.0 - margin))
        return {"need": int(need), "capacity": capacity, "limit": limit, "fraction": need / capacity, "fits": need <= limit,
                "parts": parts}

    flash = budget(model_bytes + runtime_flash_bytes, b.flash_bytes, {"model": int(model_bytes), "runtime": int(runtime_flash_bytes)})
    ram = budget(arena_bytes + io_bytes + runtime_ram_bytes, b.ram_bytes,
                 {"arena": int(arena_bytes), "io_buffers": int(io_bytes), "runtime": int(runtime_ram_bytes)})
    return {"board": b.key, "board_name": b.name, "mcu": b.mcu, "fits": flash["fits"] and ram["fits"], "margin": margin,
            "flash": flash, "ram": ram}
