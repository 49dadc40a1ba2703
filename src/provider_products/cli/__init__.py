"""The ``provider-products`` command: one module per command group, assembled in ``main``."""
