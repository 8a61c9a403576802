"""The map folder's files: the text formats, the cached binary form and the crash-safe writer."""
