"""Entry point shared by `valle train` and `python -m valle.train`: one process, torchrun, or spawned ranks.

Per-rank logging is set up here (library code only uses `logging.getLogger`): rank 0 logs INFO to the
console and to exp_dir/log/log-train.txt; other ranks log warnings only, to exp_dir/log/log-train-rank{N}.txt
as well, so a failing rank leaves a trace.
"""

from __future__ import annotations

import logging
from pathlib import Path

from valle.errors import require_file
from valle.train.config import TrainConfig
from valle.train.distributed import DistEnv, spawn
from valle.train.trainer import TrainResult, train
from valle.utils import LOG_FORMAT


def launch(cfg: TrainConfig) -> TrainResult | None:
    """Train with `cfg`; returns the result on rank 0 of an in-process run, None on other ranks and when ranks
    were spawned (their results are in exp_dir)."""
    env = DistEnv.from_environ()
    if env.distributed or cfg.world_size == 1:
        if env.distributed and cfg.world_size not in (1, env.world_size):
            logging.getLogger(__name__).warning(
                "--world-size %d ignored: torchrun started %d processes", cfg.world_size, env.world_size
            )
        return _run_rank(env, cfg)
    _preflight(cfg)  # user errors surface here as one line, not as a traceback from every child
    spawn(_run_rank, cfg.world_size, cfg.master_port, (cfg,))
    return None


def _preflight(cfg: TrainConfig) -> None:
    assert cfg.data.text_tokens is not None  # DataConfig fills in the default
    for path in (cfg.data.manifest_dir / "cuts_train.jsonl.gz", Path(cfg.data.text_tokens)):
        require_file(path, "training input", "run 'valle tokenize' and 'valle combine-cuts' first")


def _run_rank(env: DistEnv, cfg: TrainConfig) -> TrainResult | None:
    log_dir = cfg.exp_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not root.handlers:  # a spawned child starts unconfigured
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, datefmt="%H:%M:%S")
    name = "log-train.txt" if env.is_main else f"log-train-rank{env.rank}.txt"
    handler = logging.FileHandler(log_dir / name)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root.addHandler(handler)
    if not env.is_main:
        root.setLevel(logging.WARNING)
    try:
        result = train(cfg, env)
        return result if env.is_main else None
    finally:
        root.removeHandler(handler)
        handler.close()
