"""simple_api: the one core package of aws-cicd, shipped to Lambda as the SharedLayer.

Layout: ``services`` hold the behaviour (pure Python), ``adapters`` are the only modules that
talk to AWS, ``settings`` reads the environment once per container, ``errors`` is the domain
error tree, ``http`` is the single error -> HTTP mapping, ``observability`` holds the
Powertools singletons. Nothing here imports ``functions/`` or ``host/``.
"""
