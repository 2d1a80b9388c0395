from mindo_cli.main import app

app()
