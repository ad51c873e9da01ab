# Production image: the Neuroglancer client built with Node, the portal served by gunicorn.

FROM node:20-bookworm-slim AS viewer
WORKDIR /build/viewer
COPY viewer/package.json viewer/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY viewer/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORTAL_PRODUCTION=true
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
COPY --from=viewer /build/viewer/dist ./viewer/dist
# collectstatic needs settings to import; these build-time values never reach the running container.
RUN SECRET_KEY=collectstatic-only-build-key-collectstatic-only-build-key \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input \
    && useradd --system --uid 10001 portal \
    && mkdir -p /app/media && chown portal /app/media
USER portal
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn portal.wsgi:application --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --access-logfile -"]
