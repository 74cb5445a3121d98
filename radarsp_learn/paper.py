"""The paper's reference numbers and the study's method names, shared by the study
(:mod:`radarsp_learn.reproduce`) and its report (:mod:`radarsp_learn.study_report`)."""

from __future__ import annotations

# Paper (MaxRay), 50th / 90th %ile errors in m; Table 7 in the paper's (unstated) units.
PAPER = {
    "supervised": (0.289, 0.922), "mcl": (0.942, 4.681), "cfar": (2.709, 8.062),
    "rodnet": (3.012, 8.913), "scl": (1.571, 3.539), "cl": (3.111, 17.498),
    "mcl-background": (1.351, 7.649), "scl-background": (2.188, 5.462),
}
PAPER_TABLE7 = {  # train range W/KL/MI, train angle W/KL/MI, val range ..., val angle ...
    "mcl": (28.509, 7.294, 0.947, 59.359, 5.572, 1.120, 27.940, 5.319, 0.931, 57.901, 3.571, 1.121),
    "scl": (19.063, 7.281, 1.217, 40.115, 5.548, 1.567, 18.691, 5.282, 1.226, 39.387, 3.541, 1.528),
    "mcl-background": (34.930, 7.287, 0.934, 63.613, 5.559, 0.985, 34.814, 5.303, 0.913, 62.095,
                       3.572, 0.987),
    "scl-background": (20.867, 7.273, 1.117, 49.472, 5.566, 1.512, 21.035, 5.289, 1.124, 48.213,
                       3.562, 1.476),
}


# Names in the tables and figures.
LABELS = {
    "supervised": "Supervised", "mcl": "MCL", "scl": "SCL", "cl": "CL",
    "cfar": "CFAR (genie-aided)", "rodnet": "RODNet-style student",
    "mcl-background": "MCL^B", "scl-background": "SCL^B", "mcl-noise": "MCL^N",
}
