"""法治驾驶舱: the cockpit the 区委依法治区办 reads, and the monthly 通报.

A web application (FastAPI, Jinja2 templates in ``include/cockpit/templates``, Apache ECharts
served from the set-up's offline copy) that reads **only** schema ``mart``, connected as role
``dashboard`` (``COCKPIT_DATABASE_URL``); its process holds no other credential
(``yhlaw.cockpit.server`` starts it with every other secret removed from the environment).

Modules: ``db`` (the read-only connection pool), ``queries`` (every SQL the pages run),
``status`` (red/amber/green, arrows, number formats), ``periods`` (period arithmetic and
completeness), ``drilldown`` (the records behind a value, from the generated list views),
``app`` (routes), ``server`` (the process), ``report`` (the monthly 通报, HTML and PDF),
``assets`` (ECharts, installed by the set-up without a CDN).
"""
