"""An application module with a MagicMock at module level (as tests and
some apps have): heapwatch must never call it."""

from unittest.mock import MagicMock

CLIENT = MagicMock()
