"""The WSGI entry point gunicorn serves: ``gunicorn -c host/gunicorn.conf.py host.wsgi:app``."""

from host.app import make_app

app = make_app()
