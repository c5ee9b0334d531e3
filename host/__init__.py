"""host: serves the Lambda handlers outside Lambda (laptop, EC2, Fargate) as one WSGI app.

It reads the routes, environment, timeouts and gateway responses from template.yaml (the single
source), turns each HTTP request into an API Gateway REST proxy event, calls the function's handler
in-process with a Lambda context, and turns the proxy response back into HTTP.
"""
