"""Training objectives: each one an ``nn.Module`` whose ``forward(batch)`` returns its loss.

The training loop (:mod:`radarsp_learn.train`) only knows this interface, so a new objective
(SCL, CL, a RODNet-style student, ...) plugs in by subclassing :class:`Objective` and adding a
builder to :data:`OBJECTIVES`:

* ``forward(batch) -> dict`` with a scalar ``"loss"`` (differentiable in training mode) and
  any other scalar metrics to log; in ``eval()`` mode it is the validation loss and must not
  change state (no queue updates);
* ``after_step()`` runs after every optimiser step (momentum encoders);
* ``prepare(batches)`` runs once before the first epoch of a fresh run (filling a queue);
* ``needs_camera`` / ``needs_labels`` say what the batches must carry.

A builder takes the run's :class:`radarsp_learn.train.TrainConfig` and returns the objective.
"""

from __future__ import annotations

from collections.abc import Callable

from radarsp_learn.objective import Objective

__all__ = ["OBJECTIVES", "Objective", "build_objective"]


def _build_mcl(config):
    from radarsp_learn.objectives.mcl import MaskedContrastive

    return MaskedContrastive.from_config(config)


def _build_localiser(config):
    from radarsp_learn.localiser import LocaliserObjective

    return LocaliserObjective.from_config(config)


# objective name -> builder(config) -> Objective. "supervised" and "localiser" are the same
# network and loss; they differ in where the labels come from (ground truth or self-labels).
OBJECTIVES: dict[str, Callable] = {
    "mcl": _build_mcl,
    "supervised": _build_localiser,
    "localiser": _build_localiser,
}


def build_objective(config) -> Objective:
    """Build the objective ``config.objective`` names."""
    try:
        builder = OBJECTIVES[config.objective]
    except KeyError:
        raise ValueError(f"unknown objective {config.objective!r}; "
                         f"expected one of {sorted(OBJECTIVES)}") from None
    return builder(config)


def _build_scl(config):
    from radarsp_learn.objectives.scl import SpatialContrastive

    return SpatialContrastive.from_config(config)


def _build_cl(config):
    from radarsp_learn.objectives.cl import Contrastive

    return Contrastive.from_config(config)


# The paper's contrastive baselines (section 6.2, Table 5).
OBJECTIVES.update(scl=_build_scl, cl=_build_cl)
