"""The benchmark's web app: FastAPI served by uvicorn (14 pinned packages plus one test package)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def index() -> dict[str, str]:
    return {"app": "bench-web"}
