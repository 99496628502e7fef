"""Evaluators: FID / IS / precision-recall from features, feature extractors, GenEval rules and
detector backends. Only light (numpy/scipy) modules are imported here; torch-backed pieces
(evaluators.features, .inception, .detectors, .geneval_colors, .reference_stats) are imported
where they are used."""

from evaluators.geneval import read_geneval_metadata, score_geneval, summarize_geneval
from evaluators.metrics import (
    feature_stats,
    fid_from_features,
    fid_from_stats,
    inception_score,
    precision_recall,
)

__all__ = [
    "feature_stats",
    "fid_from_features",
    "fid_from_stats",
    "inception_score",
    "precision_recall",
    "read_geneval_metadata",
    "score_geneval",
    "summarize_geneval",
]
