"""Session test rig: a real local registry, deterministic fixture images, host leak checks."""
