"""The environment variables an update's handover and trial start are told apart by.

Kept free of imports: the command line reads them before it loads anything else.
"""

from __future__ import annotations

#: Names the plan file of a handover; the app's entry point runs the handover when set.
HANDOVER_ENV = "ATOM_UPDATE_HANDOVER"
#: Names the file a version on trial writes once it has started.
TRIAL_ENV = "ATOM_UPDATE_TRIAL"
