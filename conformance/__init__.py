"""The conformance suite: the core's output on real photos, stage by stage, that every port of
the pipeline (the browser's, an app's) must reproduce within stated tolerances (README.md)."""
