"""Icons and the desktop entry, installed as the package ``atom_desktop.resources``.

This directory is mapped to that package name in pyproject.toml so that its
files are package data in a wheel and in an editable install alike. Nothing is
imported from here: read the files through
:func:`atom_desktop.resource_files.resource_path`.
"""
