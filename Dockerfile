# mobilabel: CPU torch by default; `--build-arg TORCH_VARIANT=cu128` for a CUDA build.
FROM python:3.11-slim

ARG TORCH_VARIANT=cpu
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1

RUN pip install --index-url "https://download.pytorch.org/whl/${TORCH_VARIANT}" torch==2.14.1 torchvision==0.29.1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mobilabel ./mobilabel
RUN pip install ".[monitor]"

RUN useradd --create-home --uid 1000 mobilabel && mkdir -p /var/lib/mobilabel && chown mobilabel /var/lib/mobilabel
USER mobilabel
CMD ["mobilabel", "--help"]
