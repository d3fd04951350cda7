"""ECAP's control plane: the ``ecap.io/v1alpha1`` API models, pure builders and kopf handlers."""
