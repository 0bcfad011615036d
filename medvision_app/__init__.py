"""MedVision: a clinical decision-support workstation.

MedVision is decision support for research use; it does not make a diagnosis.
"""

__version__ = "0.1.0"
