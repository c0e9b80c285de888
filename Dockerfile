# Touchpoint's services in one image; docker-compose.yml picks the binary per service.
# The image holds no site configuration and no secret: mount a site file at
# /etc/touchpoint/sites.json and pass the secrets in the environment (TP_ADMIN_TOKEN,
# TP_SITE_<ID>_SECRET). docker-compose.yml mounts config/dev.json for local use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/...

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/touchpoint --create-home touchpoint \
    && install -d -o touchpoint -g touchpoint /var/lib/touchpoint/spool
COPY --from=build /out/ /usr/local/bin/
USER touchpoint
WORKDIR /var/lib/touchpoint
ENV TP_SITES=/etc/touchpoint/sites.json
