"""Trackers: turn the events of a run into logs, files and plots."""
