"""Feedback and complaint classification for Cases: category, severity, sentiment, aspects.

Importing this package is cheap; jieba, OpenCC, scikit-learn and the model load on the
first classification."""

from drivetrain.cases.classify.classifier import Classification, Classifier, classify, classify_many
from drivetrain.cases.classify.labels import Aspect, Category, Severity

__all__ = ["Aspect", "Category", "Classification", "Classifier", "Severity", "classify", "classify_many"]
