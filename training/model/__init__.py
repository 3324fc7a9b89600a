"""The learner: LightGBM with a calibrator as one scikit-learn estimator (``estimator``), the
calibrators, the input encoding, the hand-set rules as its prior, and the choice between them.

``from training.model import LeadConversionModel`` is the estimator.
"""

# models pickled when these lived in ``training.model`` (one module) find them here
from training.model.calibration import _CALIBRATORS, _EPS, _Isotonic, _logit, _Platt  # noqa: F401
from training.model.encoding import InputEncoding  # noqa: F401
from training.model.estimator import LeadConversionModel

__all__ = ["LeadConversionModel"]
