"""The trained dunning model at run time: features, artifact format, scorer.

Pure Python (no numpy, no scikit-learn): a function instance loads one JSON
artifact (``refrain.dunning_model.artifact``) and scores candidate retry times
in microseconds. Training lives in tooling (``refrain_tools.models``); storage
in Cloud Storage behind ``refrain.adapters.gcs_models``.
"""

from refrain.dunning_model.artifact import ArtifactError, DunningModel, load_model
from refrain.dunning_model.features import AttemptContext, encode
from refrain.dunning_model.timing import best_time

__all__ = ["ArtifactError", "AttemptContext", "DunningModel", "best_time", "encode", "load_model"]
