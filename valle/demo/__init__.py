"""valle.demo: the embedded default end to end (`valle demo`, `make demo`)."""

from valle.demo.pipeline import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
