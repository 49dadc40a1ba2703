"""The portal's pages, one module per page (its routes); each uses ``portal.web``."""
