"""Revision files: ``0001`` (predictions, feedback, monitor_runs, monitor_baselines), then one file per change."""
