"""The provider portal: web pages for a provider's people, served under ``/portal`` by ``serve``.

A domain package like the others, calling the existing services (catalogue search, registry,
OAuth clients) and never their repositories. Its own parts:

- ``models``/``repository``/``service``: portal users (argon2 password hashes, role admin|staff, one
  provider each) and server-side sessions stored in the database (revocable, expiring).
- ``web``: what every page module needs (``CurrentUser``, ``AdminUser``, ``CsrfChecked``,
  ``render``, ``redirect``, ``transaction``, ``PREFIX``); see its docstring.
- ``app``: the portal application (error pages, security headers) that ``create_app`` mounts.
- ``pages/``: one module of routes per page; ``templates/`` (Jinja2, ``base.html`` with
  ``{% block content %}``), ``static/`` (one stylesheet, one small script), ``locale/`` (es/en
  ``.po`` catalogues, compiled in memory at start-up by ``i18n``).
- ``onboarding/`` (when present): the onboarding page's router, ``onboarding.routes.router``,
  included by ``app`` when importable, with its templates under ``templates/onboarding/``.
"""
