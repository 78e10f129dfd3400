"""The assistant: a request in plain words becomes a plan of steps a person approves."""
