"""What differs between Linux, macOS and Windows, behind one interface per concern.

Each module here is one concern (pipes, terminals, process trees, the
launcher entry, ...), with a backend per system chosen at start. Only
``core`` is imported here, so every other package may use these, and each
module imports the system-only modules it needs (``fcntl``, ``termios``,
``ctypes.windll``) inside the backend that uses them: importing the package
works everywhere.
"""
