"""Automations: triggers (schedules, file changes), steps, history, approvals."""
