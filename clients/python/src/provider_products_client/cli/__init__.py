"""The integrator tools' commands (``onboard``, ``match``), run as ``provider-products-client``.

The server's ``provider-products`` command registers the same two commands.
"""
