"""The PyMapManager web application (Dash on Flask) around :mod:`pymapmanager`."""
