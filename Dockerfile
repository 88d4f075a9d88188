# A reproducible training job: the locked environment and this checkout, running the pipeline up
# to the train stage (or any stage: override CMD). Build and run where a Docker engine exists:
#   docker build -t mining-train .
#   docker run --rm -v "$PWD/mlruns:/app/mlruns" mining-train
#   docker run --rm mining-train dvc repro evaluate
# The image holds no data: the demo is generated; mount or fetch a real source through params.
FROM python:3.11-slim

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update && apt-get install -y --no-install-recommends git make libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN .venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation -e . \
    && .venv/bin/python -c "from mining.runner import ensure_kernel; ensure_kernel()" \
    && touch .venv/.installed \
    && (git rev-parse HEAD >/dev/null 2>&1 || (git init -q && git add -A && git -c user.name=build -c user.email=build@localhost commit -qm image))
ENV PATH=/app/.venv/bin:$PATH
CMD ["dvc", "repro", "train"]
