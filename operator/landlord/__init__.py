"""Landlord: a GitOps tenant provisioner for Kubernetes."""

__version__ = "0.1.0"
