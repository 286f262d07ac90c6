"""Pure rendering: a resolved tenant -> the Kubernetes objects it should have."""
