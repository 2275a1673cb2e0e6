"""Edge: board profiles (and, later, the body-sensor-network energy / bandwidth simulator)."""

from selectkit.edge.boards import BOARDS, DEFAULT_MARGIN, RUNTIME_FLASH_BYTES, RUNTIME_RAM_BYTES, Board, fit_check, get_board, list_boards

__all__ = ["Board", "BOARDS", "DEFAULT_MARGIN", "RUNTIME_FLASH_BYTES", "RUNTIME_RAM_BYTES", "fit_check", "get_board", "list_boards"]
