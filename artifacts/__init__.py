"""The state-artifact protocol: feature list, progress log, schemas, guards, atomic I/O."""

from artifacts.feature_list import load_feature_list, save_feature_list
from artifacts.guards import check_transition
from artifacts.io import atomic_write, read_text
from artifacts.models import Evidence, Feature, FeatureList, ProgressEntry
from artifacts.progress import append_progress, read_progress
from artifacts.validate import validate_project

__all__ = [
    "Evidence",
    "Feature",
    "FeatureList",
    "ProgressEntry",
    "append_progress",
    "atomic_write",
    "check_transition",
    "load_feature_list",
    "read_progress",
    "read_text",
    "save_feature_list",
    "validate_project",
]
