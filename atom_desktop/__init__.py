"""ATOM Desktop: the local-first desktop agent of the ATOM platform.

Importing this package does nothing but define the version; every service is
built explicitly by :class:`atom_desktop.runtime.Runtime`.
"""

__version__ = "0.1.0"
