# Landlord operator image: `docker build -t landlord .`
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --upgrade pip \
 && pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 landlord
COPY --from=build /wheels /wheels
# The wheel without extras: only the base dependencies (docs/architecture-layers.md); the devcluster
# and test extras stay out of the image.
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
# 8080: the operator's liveness, 8081: its metrics; 8082: the billing sidecar (`landlord billing`,
# the same image with another command) serves /metrics, /readyz and /healthz.
EXPOSE 8080 8081 8082
ENTRYPOINT ["landlord"]
CMD ["run"]
