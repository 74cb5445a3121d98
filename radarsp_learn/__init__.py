"""radarsp_learn: radio-visual self-supervised localisation on radarsp heatmaps (torch).

The paper's masked contrastive learning (MCL, "Look, Radiate, and Learn", CVPR 2023) in four
steps, each a module:

* :mod:`radarsp_learn.data` -- heatmap-1 frames (+ camera image and target mask) as tensors;
* :mod:`radarsp_learn.objectives` -- training objectives (:mod:`~.objectives.mcl`: eq. 1);
* :mod:`radarsp_learn.selflabel` -- target self-labels from the trained model (eqs. 2-3);
* :mod:`radarsp_learn.localiser` -- the radio-only localiser trained on them;

with :mod:`radarsp_learn.models` (networks), :mod:`radarsp_learn.grid` (the one mapping between
model-grid cells and range/angle) and :mod:`radarsp_learn.train` (runs: checkpoints, resume,
metrics). The command line is ``radarsp-learn``. Nothing is imported here, so importing the
package stays free of torch until a module is used.
"""
