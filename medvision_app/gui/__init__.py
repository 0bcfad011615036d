"""The workstation GUI (PySide6 + pyqtgraph). Only this package imports Qt widgets."""
