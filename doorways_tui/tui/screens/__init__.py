"""The workstation's screens and dialogs, one per module."""
