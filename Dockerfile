# The worker and the HTTP service (one image, two commands). First version; see README.
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e .
ENV DATA_DIR=/data
CMD ["csr", "worker"]
