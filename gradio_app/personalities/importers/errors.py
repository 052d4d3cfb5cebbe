"""The one error every importer raises: what was wrong with the input, in words a user can act on."""


class ImportRejected(ValueError):
    """The input cannot be imported; nothing was written."""
